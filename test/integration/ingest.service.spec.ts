/**
 * CameraService through the Nest DI container with real ffmpeg and SQLite: add/remove/list, persistence and restart
 * on bootstrap, ffmpeg missing, bad files, credentials redaction, browser cameras, no ffmpeg left behind.
 */
import sharp from 'sharp';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestError } from '../../src/ingest/ingest.errors';
import { CameraRepository } from '../../src/storage/ports/camera.repository';
import { IngestApp, startIngestApp, waitUntil } from '../support/ingest-app';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith, freePort } from '../support/rtsp';
import { D6 } from '../support/paths';

const hasD6 = existsSync(D6);
if (!hasD6) console.warn(`skipping file-camera tests: ${D6} is absent (../shared is not checked out)`);
const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg') !== null;

/** A unique path to d6.mp4, so /proc can tell this test's ffmpeg from any other. */
function uniqueD6(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-video-'));
  const p = join(dir, 'd6.mp4');
  symlinkSync(D6, p);
  return p;
}

const open: IngestApp[] = [];
async function app(env: Record<string, string> = {}, dataDir?: string) {
  const a = await startIngestApp({ WATCHDOG_SECONDS: '5', BACKOFF_BASE_MS: '200', ...env }, dataDir);
  open.push(a);
  return a;
}
afterEach(async () => {
  for (const a of open.splice(0)) await a.close().catch(() => undefined);
});

async function addError(a: IngestApp, input: Parameters<IngestApp['cameras']['add']>[0]): Promise<IngestError> {
  const err = await a.cameras.add(input).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IngestError);
  return err as IngestError;
}

describe.skipIf(!hasFfmpeg || !hasD6)('CameraService with real ffmpeg', () => {
  it('adds a looping file camera, streams 480x480 frames, lists it, and removing it leaves no ffmpeg', async () => {
    const a = await app();
    const path = uniqueD6();
    const view = await a.cameras.add({ url: `file://${path}`, name: 'd6', fps: 10, loop: true });
    expect(view).toMatchObject({ name: 'd6', kind: 'file', loop: true, fps: 10, status: 'connecting' });
    await waitUntil(() => a.cameras.get(view.id).status === 'streaming', 10_000, 'streaming');
    await waitUntil(() => a.frames.filter((f) => f.cameraId === view.id).length >= 5, 10_000, '5 frames');
    const f = a.frames.find((x) => x.cameraId === view.id)!;
    expect([f.width, f.height, f.data.length]).toEqual([480, 480, 480 * 480 * 3]);
    await waitUntil(() => (a.cameras.get(view.id).measuredFps ?? 0) > 0, 5000, 'measured fps');
    expect(a.cameras.get(view.id).measuredFps).toBeGreaterThan(5);
    expect(a.cameras.get(view.id).measuredFps).toBeLessThan(15);
    expect(a.cameras.list().map((c) => c.id)).toEqual([view.id]);
    expect(ffmpegProcessesWith(path)).toHaveLength(1);

    await a.cameras.remove(view.id);
    expect(ffmpegProcessesWith(path)).toEqual([]);
    expect(a.cameras.list()).toEqual([]);
    expect(a.module.get(CameraRepository).get(view.id)).toBeUndefined();
    expect(a.statuses.filter((s) => s.cameraId === view.id).at(-1)?.state).toBe('stopped');
    await expect(a.cameras.remove(view.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('restores stored cameras on bootstrap, and kills every ffmpeg on shutdown', async () => {
    const first = await app();
    const path = uniqueD6();
    const { id } = await first.cameras.add({ url: `file://${path}`, loop: true });
    await waitUntil(() => first.cameras.get(id).status === 'streaming', 10_000, 'streaming');
    await first.close();
    expect(ffmpegProcessesWith(path)).toEqual([]);

    const second = await app({}, first.dataDir);
    expect(second.cameras.list().map((c) => c.id)).toEqual([id]);
    await waitUntil(() => second.cameras.get(id).status === 'streaming', 10_000, 'streaming after restart');
    await second.close();
    expect(ffmpegProcessesWith(path)).toEqual([]);
  });

  it('a non-looping file plays to its end and goes stopped', async () => {
    const a = await app();
    const short = resolve(D6, '../d0.mp4'); // 3 s
    const { id } = await a.cameras.add({ url: `file://${short}`, fps: 5 });
    await waitUntil(() => a.cameras.get(id).status === 'stopped', 15_000, 'end of file');
    expect(a.cameras.get(id).reason).toBe('end of file');
    expect(a.statuses.filter((s) => s.cameraId === id).map((s) => s.state)).toEqual(['connecting', 'streaming', 'stopped']);
  });

  it('rejects a file that is not a video, a missing file, and unknown schemes with invalid_url', async () => {
    const a = await app();
    const dir = mkdtempSync(join(tmpdir(), 'ingest-bad-'));
    const text = join(dir, 'notes.mp4');
    writeFileSync(text, 'this is not a video\n'.repeat(100));
    expect(await addError(a, { url: `file://${text}` })).toMatchObject({ code: 'invalid_url', message: expect.stringMatching(/not a playable video file/) });
    expect(await addError(a, { url: `file://${dir}/missing.mp4` })).toMatchObject({ code: 'invalid_url', message: expect.stringMatching(/file not found/) });
    expect(await addError(a, { url: 'ftp://cam/x' })).toMatchObject({ code: 'invalid_url' });
    expect(await addError(a, { url: '-f lavfi -i testsrc' })).toMatchObject({ code: 'invalid_url' });
    expect(await addError(a, { url: 'rtsp://cam/x', fps: -1 })).toMatchObject({ code: 'bad_message' });
    expect(a.cameras.list()).toEqual([]);
  });

  it('a stored file camera whose file is no longer a video goes failed with ffmpeg’s reason', async () => {
    const a = await app();
    const dir = mkdtempSync(join(tmpdir(), 'ingest-bad-'));
    const p = join(dir, 'was-video.mp4');
    symlinkSync(D6, p);
    const { id } = await a.cameras.add({ url: `file://${p}` });
    await a.close();
    // replace the file behind the stored camera
    const { unlinkSync } = await import('node:fs');
    unlinkSync(p);
    writeFileSync(p, Buffer.alloc(10_000, 7));
    const b = await app({}, a.dataDir);
    await waitUntil(() => b.cameras.get(id).status === 'failed', 10_000, 'failed');
    expect(b.cameras.get(id).reason).toMatch(/Invalid data found|moov atom not found|ffmpeg exit code/);
  });

  it('goes failed with "ffmpeg not found" when FFMPEG_PATH points nowhere, and never echoes credentials', async () => {
    const a = await app({ FFMPEG_PATH: '/nonexistent/ffmpeg' });
    const port = await freePort();
    const view = await a.cameras.add({ url: `rtsp://admin:hunter2@127.0.0.1:${port}/live` });
    expect(view.url).toBe(`rtsp://***@127.0.0.1:${port}/live`);
    await waitUntil(() => a.cameras.get(view.id).status === 'failed', 5000, 'failed');
    expect(a.cameras.get(view.id).reason).toMatch(/^ffmpeg not found: FFMPEG_PATH=\/nonexistent\/ffmpeg/);
    await a.cameras.retry(view.id);
    await waitUntil(() => a.cameras.get(view.id).status === 'failed', 5000, 'failed again after retry');
    expect(JSON.stringify([a.cameras.list(), a.statuses])).not.toContain('hunter2');
  });

  it('an unreachable RTSP camera reconnects with a redacted reason', async () => {
    const a = await app({ MAX_RESTARTS: '3', BACKOFF_BASE_MS: '100' });
    const port = await freePort();
    const { id } = await a.cameras.add({ url: `rtsp://u:hunter2@127.0.0.1:${port}/x` });
    await waitUntil(() => a.cameras.get(id).status === 'failed', 10_000, 'failed after 3 attempts');
    const states = a.statuses.filter((s) => s.cameraId === id).map((s) => s.state);
    expect(states.filter((s) => s === 'reconnecting').length).toBe(2);
    expect(a.cameras.get(id).reason).toMatch(/^refused: .*gave up after 3/);
    expect(JSON.stringify(a.statuses)).not.toContain('hunter2');
  });

  it('browser cameras: pushed JPEGs become BGR frames; bad frames are rejected without ending the camera', async () => {
    const a = await app();
    const cam = a.cameras.openBrowserCamera('laptop', 30);
    expect(a.cameras.get(cam.id)).toMatchObject({ kind: 'browser', name: 'laptop', status: 'connecting' });
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 0, b: 255 } } }).jpeg().toBuffer();
    expect(await cam.push(Buffer.from('garbage'))).toMatchObject({ status: 'rejected', error: { code: 'bad_message' } });
    expect(await cam.push(jpeg)).toMatchObject({ status: 'decoded' });
    expect(a.cameras.get(cam.id).status).toBe('streaming');
    const f = a.frames.find((x) => x.cameraId === cam.id)!;
    expect([f.width, f.height]).toEqual([64, 48]);
    expect(f.data[0]).toBeGreaterThan(240); // blue first in BGR
    // not stored
    expect(a.module.get(CameraRepository).list()).toEqual([]);
    await cam.close();
    expect(() => a.cameras.get(cam.id)).toThrow(IngestError);
  });
});
