import { describe, expect, it } from 'vitest';
import { CameraStatus } from '../contracts/cameras';
import { Frame } from '../contracts/frames';
import { CameraRunner, RunnerSettings } from './camera.runner';
import { capabilitiesFor, FfmpegInfo } from './ffmpeg.locator';
import { classifyFfmpegFailure, ffmpegFrames } from './ffmpeg.source';
import { IngestError } from './ingest.errors';
import { FakeSpawner, flush, ManualClock } from './testing/fakes';

const INFO: FfmpegInfo = { path: '/fake/ffmpeg', versionLine: 'ffmpeg version 5.1', libavformatMajor: 59, capabilities: capabilitiesFor(59) };
const SETTINGS: RunnerSettings = { watchdogMs: 2000, startTimeoutMs: 5000, backoffBaseMs: 100, backoffMaxMs: 1000, healthyMs: 10_000, maxRestarts: 4 };
const W = 4;
const H = 2;
const FRAME = W * H * 3;

function setup(opts: { live?: boolean; settings?: Partial<RunnerSettings>; locate?: () => Promise<FfmpegInfo> } = {}) {
  const clock = new ManualClock();
  const spawner = new FakeSpawner();
  const runner = new CameraRunner(
    'cam1',
    opts.live ?? true,
    (ctx) =>
      ffmpegFrames({
        spawner,
        locate: opts.locate ?? (() => Promise.resolve(INFO)),
        args: () => ['-i', 'x'],
        cameraId: 'cam1',
        nextFrameId: ctx.nextFrameId,
        onSpawn: ctx.onSpawn,
        now: () => clock.now(),
      }),
    { ...SETTINGS, ...opts.settings },
    clock,
  );
  const statuses: CameraStatus[] = [];
  const frames: Frame[] = [];
  runner.status$.subscribe((s) => statuses.push(s));
  runner.frames$.subscribe((f) => frames.push(f));
  /** The latest fake ffmpeg prints its header and `n` frames. */
  const stream = async (n = 1) => {
    const p = spawner.last;
    p.header(W, H);
    for (let i = 0; i < n; i++) p.write(Buffer.alloc(FRAME, i));
    await flush();
  };
  return { clock, spawner, runner, statuses, frames, stream };
}

describe('CameraRunner', () => {
  it('goes connecting → streaming on the first frame and emits sized frames', async () => {
    const { runner, spawner, statuses, frames, stream } = setup();
    runner.start();
    await flush();
    expect(runner.state).toBe('connecting');
    expect(spawner.spawned).toHaveLength(1);
    await stream(3);
    expect(runner.state).toBe('streaming');
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'streaming']);
    expect(frames.map((f) => [f.frameId, f.width, f.height, f.data.length])).toEqual([
      [0, W, H, FRAME],
      [1, W, H, FRAME],
      [2, W, H, FRAME],
    ]);
  });

  it('treats exit code 0 of a live source as a fault: reconnecting, then streaming again with frame ids continuing', async () => {
    const { runner, spawner, clock, frames, stream } = setup();
    runner.start();
    await flush();
    await stream(2);
    spawner.last.exit(0);
    await flush();
    expect(runner.state).toBe('reconnecting');
    expect(runner.reason).toMatch(/ffmpeg exited/);
    await clock.advance(99);
    expect(spawner.spawned).toHaveLength(1);
    await clock.advance(1);
    expect(spawner.spawned).toHaveLength(2);
    await stream(1);
    expect(runner.state).toBe('streaming');
    expect(frames.map((f) => f.frameId)).toEqual([0, 1, 2]);
  });

  it('backs off exponentially, goes failed after maxRestarts consecutive failures, and retry starts over', async () => {
    const { runner, spawner, clock } = setup();
    runner.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      spawner.last.exit(1, null, '[tcp @ 0x1] Connection to tcp://127.0.0.1:9 failed: Connection refused');
      await flush();
      if (runner.state === 'failed') break;
      const before = spawner.spawned.length;
      let waited = 0;
      while (spawner.spawned.length === before) {
        await clock.advance(10);
        waited += 10;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(runner.state).toBe('failed');
    expect(runner.reason).toMatch(/^refused: .*gave up after 4 consecutive failures/);
    expect(runner.detail).toMatch(/Connection refused/);
    await clock.advance(60_000);
    expect(spawner.spawned).toHaveLength(4);

    runner.retry();
    await flush();
    expect(runner.state).toBe('connecting');
    expect(spawner.spawned).toHaveLength(5);
    expect(runner.failureCount).toBe(0);
  });

  it('caps the backoff at backoffMaxMs', async () => {
    const { runner, spawner, clock } = setup({ settings: { maxRestarts: 100, backoffMaxMs: 300 } });
    runner.start();
    await flush();
    for (let i = 0; i < 5; i++) {
      spawner.last.exit(1);
      await flush();
      await clock.advance(1000);
    }
    spawner.last.exit(1);
    await flush();
    expect(runner.reason).toMatch(/retrying in 0.3 s/);
  });

  it('resets the backoff after a healthy streaming period', async () => {
    const { runner, spawner, clock, stream } = setup({ settings: { watchdogMs: 60_000 } });
    runner.start();
    await flush();
    for (let i = 0; i < 3; i++) {
      spawner.last.exit(1);
      await flush();
      await clock.advance(1000);
    }
    expect(runner.failureCount).toBe(3);
    await stream(1);
    await clock.advance(10_000);
    spawner.last.write(Buffer.alloc(FRAME));
    await flush();
    expect(runner.failureCount).toBe(0);
    spawner.last.exit(0);
    await flush();
    expect(runner.reason).toMatch(/retrying in 0.1 s/);
  });

  it('kills a stalled ffmpeg (no frame for watchdogMs) and restarts it', async () => {
    const { runner, spawner, clock, statuses, stream } = setup();
    runner.start();
    await flush();
    await stream(1);
    const hung = spawner.last;
    hung.obeysSigterm = false; // like ffmpeg stuck on a SIGSTOPped server
    await clock.advance(1999);
    expect(runner.state).toBe('streaming');
    await clock.advance(1);
    expect(runner.state).toBe('reconnecting');
    expect(runner.reason).toMatch(/no frame for 2 s \(stalled\)/);
    expect(hung.signals).toEqual(['SIGTERM']);
    expect(statuses.at(-1)?.state).toBe('reconnecting');
    await clock.advance(100);
    expect(spawner.spawned).toHaveLength(2);
  });

  it('gives a connecting source startTimeoutMs for its first frame', async () => {
    const { runner, spawner, clock } = setup();
    runner.start();
    await flush();
    await clock.advance(4999);
    expect(runner.state).toBe('connecting');
    await clock.advance(1);
    expect(runner.state).toBe('reconnecting');
    expect(runner.reason).toMatch(/no first frame after 5 s/);
    expect(spawner.spawned[0].signals).toContain('SIGTERM');
  });

  it('a non-looping file that ends is stopped; one that fails is failed with ffmpeg’s reason', async () => {
    const ok = setup({ live: false });
    ok.runner.start();
    await flush();
    await ok.stream(2);
    ok.spawner.last.exit(0);
    await flush();
    expect(ok.runner.state).toBe('stopped');
    expect(ok.runner.reason).toBe('end of file');

    const bad = setup({ live: false });
    bad.runner.start();
    await flush();
    bad.spawner.last.exit(1, null, 'file:/tmp/x.mp4: Invalid data found when processing input');
    await flush();
    expect(bad.runner.state).toBe('failed');
    expect(bad.runner.reason).toMatch(/^not a video: /);
    expect(bad.runner.detail).toMatch(/Invalid data found/);
    await bad.clock.advance(60_000);
    expect(bad.spawner.spawned).toHaveLength(1);
  });

  it('goes failed at once, without retrying, when ffmpeg cannot be found', async () => {
    const { runner, spawner, clock } = setup({
      locate: () => Promise.reject(new IngestError('unavailable', 'ffmpeg not found: FFMPEG_PATH=/nonexistent is not an executable file')),
    });
    runner.start();
    await flush();
    expect(runner.state).toBe('failed');
    expect(runner.reason).toMatch(/^ffmpeg not found/);
    await clock.advance(60_000);
    expect(spawner.spawned).toHaveLength(0);
  });

  it('reports ENOENT from spawn as ffmpeg not found', async () => {
    const { runner, spawner } = setup();
    spawner.failWith = Object.assign(new Error('spawn /fake/ffmpeg ENOENT'), { code: 'ENOENT' });
    runner.start();
    await flush();
    await flush();
    expect(runner.state).toBe('failed');
    expect(runner.reason).toMatch(/ffmpeg not found: cannot execute \/fake\/ffmpeg/);
  });

  it('stop() kills ffmpeg and waits for it to exit', async () => {
    const { runner, spawner, clock, stream } = setup();
    runner.start();
    await flush();
    await stream(1);
    const p = spawner.last;
    await runner.stop();
    expect(p.signals).toEqual(['SIGTERM']);
    expect(p.signalCode).toBe('SIGTERM');
    expect(runner.state).toBe('stopped');
    await clock.advance(60_000);
    expect(spawner.spawned).toHaveLength(1);
  });

  it('measures fps from frame arrival times', async () => {
    const { runner, spawner, clock, stream } = setup({ settings: { watchdogMs: 60_000 } });
    runner.start();
    await flush();
    await stream(1);
    for (let i = 0; i < 20; i++) {
      await clock.advance(100);
      spawner.last.write(Buffer.alloc(FRAME));
      await flush();
    }
    expect(runner.measuredFps).toBeCloseTo(10, 0);
  });

  it('shows clients a category, not the upstream answer; the detail stays for the log', async () => {
    const { runner, spawner, statuses } = setup({ settings: { maxRestarts: 1 } });
    runner.start();
    await flush();
    spawner.last.exit(1, null, '[http @ 0x2] HTTP error 403 Forbidden');
    await flush();
    expect(runner.state).toBe('failed');
    expect(runner.reason).toMatch(/^auth required: .*\(ffmpeg exit code 1\)/);
    for (const text of [runner.reason, ...statuses.map((s) => s.reason)]) {
      expect(text ?? '').not.toMatch(/403|Forbidden|http @/);
    }
    expect(runner.detail).toContain('HTTP error 403 Forbidden');
  });
});

describe('classifyFfmpegFailure', () => {
  it.each([
    ['Server returned 401 Unauthorized (authorization failed)', 'auth_required'],
    ['[http @ 0x1] HTTP error 403 Forbidden', 'auth_required'],
    ['[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized', 'auth_required'],
    ['[tcp @ 0x1] Connection to tcp://127.0.0.1:9 failed: Connection refused', 'refused'],
    ['rtsp://10.0.0.9/s: Connection timed out', 'timeout'],
    ['/v/a.mp4: Invalid data found when processing input', 'not_video'],
    ['[mov,mp4 @ 0x1] moov atom not found', 'not_video'],
    ['Server returned 404 Not Found', 'unreachable'],
    ['[rtsp @ 0x1] method DESCRIBE failed: 454 Session Not Found', 'unreachable'],
    ['[tcp @ 0x1] Failed to resolve hostname cam.lan: Name or service not known', 'unreachable'],
    ['something nobody expected', 'error'],
  ])('%s → %s', (line, category) => {
    expect(classifyFfmpegFailure(['Input #0, rtsp, from x:', line, 'Press [q] to stop'])).toBe(category);
  });
});
