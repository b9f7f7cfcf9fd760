/**
 * Real ffmpeg, both binaries the project meets: Debian's 5.1 and the 2018 static build inside @ffmpeg-installer.
 * Needs ffmpeg (apt: ffmpeg) and ../shared/videos/d6.mp4.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Frame } from '../../src/contracts/frames';
import { parseCameraUrl } from '../../src/ingest/camera-url';
import { buildFfmpegArgs, outputArgs } from '../../src/ingest/ffmpeg.args';
import { FfmpegInfo, FfmpegLocator } from '../../src/ingest/ffmpeg.locator';
import { FfmpegExitError, ffmpegFrames } from '../../src/ingest/ffmpeg.source';
import { NodeProcessSpawner } from '../../src/ingest/process.spawner';
import { BUNDLED_FFMPEG, D6, ROOT } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { freePort } from '../support/rtsp';

const hasD6 = existsSync(D6);
if (!hasD6) console.warn(`skipping file-source tests: ${D6} is absent (../shared is not checked out)`);
const SYSTEM = requireTool('ffmpeg', 'ffmpeg');
const BUNDLED_PATH = BUNDLED_FFMPEG;
const BINARIES = [
  ...(SYSTEM ? [{ name: 'system ffmpeg', path: SYSTEM }] : []),
  ...(existsSync(BUNDLED_PATH) ? [{ name: '2018 static ffmpeg', path: BUNDLED_PATH }] : []),
];

const spawner = new NodeProcessSpawner();
let n = 0;
function frames(info: FfmpegInfo, args: string[]) {
  n = 0;
  return ffmpegFrames({ spawner, locate: async () => info, args: () => args, cameraId: 'cam', nextFrameId: () => n++ });
}

describe.each(BINARIES)('$name', ({ path }) => {
  const locate = () => new FfmpegLocator({ FFMPEG_PATH: path }).locate();

  it('detects its RTSP timeout flag from -version', async () => {
    const info = await locate();
    expect(info.capabilities.rtspTimeoutFlag).toBe(info.versionLine.includes('N-47683') ? '-stimeout' : '-timeout');
  });

  it.skipIf(!hasD6)('plays ../shared/videos/d6.mp4 as a file:/// camera at its real rate, 480x480 BGR24 frames', async () => {
    const info = await locate();
    const source = parseCameraUrl(`file://${D6}`);
    const args = buildFfmpegArgs(source, { fps: 10, maxSide: 640, ioTimeoutUs: 5e6, capabilities: info.capabilities });
    const t0 = Date.now();
    const got: Frame[] = await firstValueFrom(frames(info, args).pipe(take(8), toArray()));
    const seconds = (Date.now() - t0) / 1000;
    expect(got.map((f) => [f.width, f.height, f.data.length])).toEqual(Array(8).fill([480, 480, 480 * 480 * 3]));
    expect(got.map((f) => f.frameId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // -re: 8 frames at 10 fps take ~0.7 s of video time, not a burst.
    expect(seconds).toBeGreaterThan(0.5);
    // real pixels, not zeros
    expect(got[4].data.reduce((a, b) => a + b, 0)).toBeGreaterThan(480 * 480 * 10);
  });

  it('scales a lavfi 1280x720 testsrc to 640x360 and keeps the channel order BGR', async () => {
    const info = await locate();
    const head = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info'];
    const ts = await firstValueFrom(
      frames(info, [...head, '-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=30', ...outputArgs({ fps: 10, maxSide: 640 })]).pipe(take(3), toArray()),
    );
    expect(ts.map((f) => [f.width, f.height, f.data.length])).toEqual(Array(3).fill([640, 360, 640 * 360 * 3]));
    const small = await firstValueFrom(
      frames(info, [...head, '-f', 'lavfi', '-i', 'color=c=red:size=320x240:rate=10', ...outputArgs({ fps: 10, maxSide: 640 })]),
    );
    expect([small.width, small.height]).toEqual([320, 240]); // never upscaled
    const [b, g, r] = small.data; // lavfi's red goes through YUV: ~(0, 0, 253)
    expect(b).toBeLessThan(10);
    expect(g).toBeLessThan(10);
    expect(r).toBeGreaterThan(240);
  });

  it('an RTSP camera on a closed port fails fast with a connection error (timeout flag accepted, no listen mode)', async () => {
    const info = await locate();
    const port = await freePort();
    const args = buildFfmpegArgs(parseCameraUrl(`rtsp://127.0.0.1:${port}/x`), {
      fps: 10,
      maxSide: 640,
      ioTimeoutUs: 3e6,
      capabilities: info.capabilities,
    });
    const t0 = Date.now();
    const err = await firstValueFrom(frames(info, args)).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(FfmpegExitError);
    expect((err as Error).message).toMatch(/Connection refused/i);
    expect((err as FfmpegExitError).category).toBe('refused');
    expect((err as Error).message).not.toMatch(/Unrecognized option|Option .* not found/);
  });

  it('reports a file that is not a video with ffmpeg’s reason', async () => {
    const info = await locate();
    const args = buildFfmpegArgs(parseCameraUrl(`file://${resolve(ROOT, 'package.json')}`), {
      fps: 10,
      maxSide: 640,
      ioTimeoutUs: 3e6,
      capabilities: info.capabilities,
    });
    const err = await firstValueFrom(frames(info, args)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegExitError);
    expect((err as Error).message).toMatch(/Invalid data found|could not find codec|matches no streams/i);
    expect((err as FfmpegExitError).category).toBe('not_video');
  });
});
