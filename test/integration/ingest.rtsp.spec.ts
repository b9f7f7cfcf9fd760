/**
 * Camera faults against a real RTSP server (GstRtspServer, test/support/rtsp-server.py) serving ../shared/videos/d6.mp4:
 * streaming over TCP and UDP, server killed → reconnecting → streaming again within 15 s of its return, a frozen
 * (SIGSTOPped) server caught by the watchdog, removal leaves no ffmpeg. Run with system ffmpeg and the 2018 build.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestApp, startIngestApp, waitUntil } from '../support/ingest-app';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith, requireRtspServer, RtspServer, startRtspServer } from '../support/rtsp';
import { BUNDLED_FFMPEG, D6 } from '../support/paths';

const hasD6 = existsSync(D6);
if (!hasD6) console.warn(`skipping RTSP tests: ${D6} is absent (../shared is not checked out)`);
const FFMPEG = requireTool('ffmpeg', 'ffmpeg');
const canRun = hasD6 && FFMPEG !== null && requireRtspServer();
const BUNDLED = BUNDLED_FFMPEG;

const FAST = {
  WATCHDOG_SECONDS: '2',
  START_TIMEOUT_SECONDS: '10',
  BACKOFF_BASE_MS: '200',
  BACKOFF_MAX_MS: '1000',
  IO_TIMEOUT_SECONDS: '5',
  MAX_RESTARTS: '100',
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function setup(env: Record<string, string> = {}): Promise<{ a: IngestApp; server: RtspServer }> {
  const server = await startRtspServer(D6, { ffmpeg: FFMPEG! });
  cleanup.push(() => server.kill());
  const a = await startIngestApp({ ...FAST, ...env });
  cleanup.push(() => a.close());
  return { a, server };
}

const framesOf = (a: IngestApp, id: string) => a.frames.filter((f) => f.cameraId === id);

describe.skipIf(!canRun)('RTSP camera (system ffmpeg)', () => {
  it('streams over TCP; survives the server being killed and restarted; the watchdog catches a frozen server', async () => {
    const { a, server } = await setup();
    const { id } = await a.cameras.add({ url: server.url, fps: 10 });
    const toStream = await waitUntil(() => a.cameras.get(id).status === 'streaming', 10_000, 'streaming');
    await waitUntil(() => framesOf(a, id).length >= 3, 5000, 'frames');
    const f = framesOf(a, id)[0];
    expect([f.width, f.height, f.data.length]).toEqual([480, 480, 480 * 480 * 3]);

    // killed: ffmpeg 5.1 exits (code 0) → reconnecting
    await server.kill();
    const toReconnecting = await waitUntil(() => a.cameras.get(id).status === 'reconnecting', 5000, 'reconnecting after kill');
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.cameras.get(id).status).not.toBe('streaming');

    // back: streaming again within 15 s of its return, frames flowing with ids still increasing
    const lastId = framesOf(a, id).at(-1)!.frameId;
    await server.restart();
    const toRecover = await waitUntil(() => a.cameras.get(id).status === 'streaming', 15_000, 'streaming after restart');
    await waitUntil(() => framesOf(a, id).at(-1)!.frameId > lastId + 2, 5000, 'frames after restart');

    // frozen: the watchdog (2 s here) kills ffmpeg and reconnects
    server.freeze();
    const frozenAt = Date.now();
    await waitUntil(() => a.cameras.get(id).status === 'reconnecting', 10_000, 'watchdog after SIGSTOP');
    const toWatchdog = Date.now() - frozenAt;
    expect(a.cameras.get(id).reason).toMatch(/no frame for \d+(\.\d)? s \(stalled\)/);
    server.thaw();
    const toThaw = await waitUntil(() => a.cameras.get(id).status === 'streaming', 20_000, 'streaming after SIGCONT');

    console.log(
      `[rtsp measured] first frame ${toStream} ms; kill→reconnecting ${toReconnecting} ms; restart→streaming ${toRecover} ms; ` +
        `SIGSTOP→watchdog ${toWatchdog} ms (WATCHDOG_SECONDS=2); SIGCONT→streaming ${toThaw} ms`,
    );
    expect(toWatchdog).toBeLessThan(6000);

    await a.cameras.remove(id);
    expect(ffmpegProcessesWith(server.url)).toEqual([]);
  });

  it('streams over UDP', async () => {
    const { a, server } = await setup();
    const { id } = await a.cameras.add({ url: server.url, transport: 'udp', fps: 5 });
    await waitUntil(() => framesOf(a, id).length >= 5, 15_000, '5 frames over UDP');
    expect(framesOf(a, id)[0]).toMatchObject({ width: 480, height: 480 });
    expect(ffmpegProcessesWith(server.url)).toHaveLength(1);
    await a.cameras.remove(id);
    expect(ffmpegProcessesWith(server.url)).toEqual([]);
  });
});

describe.skipIf(!canRun || !existsSync(BUNDLED))('RTSP camera (2018 static ffmpeg: -stimeout)', () => {
  it('streams, reconnects after the server dies, and recovers when it returns', async () => {
    const { a, server } = await setup({ FFMPEG_PATH: BUNDLED });
    const { id } = await a.cameras.add({ url: server.url, fps: 10 });
    await waitUntil(() => a.cameras.get(id).status === 'streaming', 10_000, 'streaming');
    expect(ffmpegProcessesWith(server.url)).toHaveLength(1);
    await server.kill();
    await waitUntil(() => a.cameras.get(id).status === 'reconnecting', 8000, 'reconnecting after kill');
    await server.restart();
    await waitUntil(() => a.cameras.get(id).status === 'streaming', 15_000, 'streaming after restart');
    await a.cameras.remove(id);
    expect(ffmpegProcessesWith(server.url)).toEqual([]);
  });
});
