/**
 * The identity tests' videos (test/support/face-video.ts) are what they claim: every photo frame shows one face YuNet
 * finds, and the "leave and return" gap shows none, so the live tracker really ends the person's track there.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { OrtSessionFactory } from '../../src/inference/ort.sessions';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { hasTaiwanese, leaveAndReturnVideo, noTaiwaneseReason, stillsVideo, subjectPhotos, subjects } from '../support/face-video';
import { MODELS } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { decodeBgrFrames } from '../support/video';

const ffmpeg = requireTool('ffmpeg', 'ffmpeg');
if (!hasTaiwanese) console.warn(`skipping: ${noTaiwaneseReason}`);

describe.skipIf(!ffmpeg || !hasTaiwanese)('face videos made from stills', () => {
  let dir: string;
  let detector: YunetDetector;
  const config = loadConfig({});

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'face-video-'));
    const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1 });
    // The server's own detector settings: what the live path will (not) see.
    detector = new YunetDetector(await factory.create(join(MODELS, 'face-detection', 'yunet_s_dynamic.onnx')), {
      size: config.DETECTOR_INPUT_SIZE,
      scoreThreshold: config.DETECTOR_SCORE_THRESHOLD,
      nmsIou: config.DETECTOR_NMS_IOU,
      minFacePixels: config.MIN_FACE_PIXELS,
    });
  });
  afterAll(() => {
    detector?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Faces found in frames sampled twice a second (at 0.25, 0.75, … s: mid-photo, away from the cuts). */
  async function facesOverTime(path: string, seconds: number): Promise<{ t: number; faces: number }[]> {
    const { width, height, frames } = decodeBgrFrames(path, { start: 0.25, count: seconds * 2, fps: 2 });
    expect(frames.length).toBe(seconds * 2);
    const found = await detector.detect(frames.map((data) => ({ data, width, height })));
    return found.map((f, i) => ({ t: 0.25 + i / 2, faces: f.length }));
  }

  it('a stills video: 512x512, one face in every frame', async () => {
    const [a] = subjects();
    const photos = subjectPhotos(a, 'test', 6);
    expect(photos).toHaveLength(6);
    const path = stillsVideo(photos, join(dir, 'a.mp4'), { fps: 10 });
    expect(statSync(path).size).toBeGreaterThan(10_000);
    const probe = decodeBgrFrames(path, { count: 1 });
    expect([probe.width, probe.height]).toEqual([512, 512]);
    const seen = await facesOverTime(path, 6);
    expect(seen.filter((s) => s.faces !== 1)).toEqual([]);
  });

  it('leave and return: a face, then a gap with no face for well over TRACK_GRACE_FRAMES, then the face again', async () => {
    const [a] = subjects();
    const photos = subjectPhotos(a, 'test', 6);
    const fps = 10;
    const video = leaveAndReturnVideo(photos.slice(0, 3), photos.slice(3), join(dir, 'leave.mp4'), { fps, gapSeconds: 4 });
    expect(video).toMatchObject({ gapStart: 3, gapEnd: 7 });
    // The gap must outlast the tracker's grace at this fps by a wide margin (frames the pipeline skips under load
    // shorten it as the tracker counts it).
    expect((video.gapEnd - video.gapStart) * fps).toBeGreaterThan(4 * config.TRACK_GRACE_FRAMES);
    const seen = await facesOverTime(video.path, 10);
    const inGap = seen.filter((s) => s.t > video.gapStart && s.t < video.gapEnd);
    const outside = seen.filter((s) => s.t < video.gapStart || s.t > video.gapEnd);
    expect(inGap.length).toBe(8);
    expect(inGap.filter((s) => s.faces > 0)).toEqual([]);
    expect(outside.filter((s) => s.faces !== 1)).toEqual([]);
  });
});
