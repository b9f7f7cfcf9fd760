/**
 * Soak run: the real server as a child process, N looping cameras (local GStreamer RTSP servers, or files when
 * GStreamer is missing), subscribed WebSocket clients, camera servers restarted along the way. Every
 * --sample-every seconds: RSS, open fds and sockets, ffmpeg children, events/s, faces/s, capture→event latency
 * percentiles, event-loop lag (prom-client's nodejs_eventloop_lag_* from /metrics), reconnects.
 *
 *   npm run soak -- --cameras 8 --minutes 60 [--json] [--source video.mp4] [--restart-every 120] [--fps 5] [--files]
 *
 * Exits 0 when no leak was found (ffmpeg children and fds back to their start, nothing left running after
 * shutdown, clean exit) and, on runs of ≥ 20 minutes, RSS grew ≤ 10% between minute 10 and the end; 1 otherwise.
 */
import { copyFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { ChildServer, childProcesses, openFds, rssKiB, startChildServer } from '../test/support/child-server';
import { ffmpegProcessesWith, requireRtspServer, RtspServer, startRtspServer } from '../test/support/rtsp';
import { cliArgs, numberArg } from './cli';

const opt = cliArgs(
  'npm run soak -- --cameras N --minutes M [--json] [--source <video>] [--restart-every S] [--sample-every S] [--fps F] [--clients N] [--files]',
  {
    cameras: { type: 'string', default: '4' },
    minutes: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    source: { type: 'string', default: resolve(__dirname, '..', '..', 'shared', 'videos', 'd6.mp4') },
    'restart-every': { type: 'string', default: '60' },
    'sample-every': { type: 'string', default: '10' },
    fps: { type: 'string', default: '5' },
    clients: { type: 'string', default: '2' },
    files: { type: 'boolean', default: false },
  },
);
const N = numberArg('cameras', opt.cameras, { min: 1, max: 64, int: true });
const MINUTES = numberArg('minutes', opt.minutes, { min: 0.1, max: 24 * 60 });
const RESTART_EVERY_S = numberArg('restart-every', opt['restart-every'], { min: 0 });
const SAMPLE_S = numberArg('sample-every', opt['sample-every'], { min: 1 });
const FPS = numberArg('fps', opt.fps, { min: 0.1, max: 60 });
const CLIENTS = Math.max(1, Number(opt.clients));
const SOURCE = resolve(opt.source!);
const say = (line: string) => (opt.json ? process.stderr : process.stdout).write(line + '\n');

interface Sample {
  t: number; // seconds since the cameras started
  rssMiB: number;
  fds: number;
  sockets: number;
  ffmpeg: number;
  eventsPerSec: number;
  facesPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  lagP99Ms: number;
  lagMaxMs: number;
  reconnects: number; // cumulative camera.status reconnecting
  restarts: number; // cumulative camera-server restarts done by this script
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function socketFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

async function eventLoopLag(url: string): Promise<{ p99: number; max: number }> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
    return { p99: read('nodejs_eventloop_lag_p99_seconds'), max: read('nodejs_eventloop_lag_max_seconds') };
  } catch {
    return { p99: NaN, max: NaN };
  }
}

/** A subscribed client; the first one also measures. */
function connectClient(wsUrl: string, stats: { events: number; faces: number; latencies: number[]; reconnects: number } | null): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(wsUrl);
    ws.on('error', rej);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', id: 's', cameras: '*' }));
      res(ws);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary || !stats) return;
      const m = JSON.parse(data.toString()) as { type: string; latencyMs?: number; faces?: unknown[]; state?: string };
      if (m.type === 'expression') {
        stats.events++;
        stats.faces += m.faces?.length ?? 0;
        if (typeof m.latencyMs === 'number') stats.latencies.push(m.latencyMs);
      } else if (m.type === 'camera.status' && m.state === 'reconnecting') stats.reconnects++;
    });
  });
}

async function main(): Promise<number> {
  const tmp = mkdtempSync(join(tmpdir(), 'iexpr-soak-'));
  const rtsp: RtspServer[] = [];
  // File cameras read a private copy: its path tells our ffmpeg processes from anyone else's.
  const video = join(tmp, 'soak-source.mp4');
  const sockets: WebSocket[] = [];
  let server: ChildServer | undefined;
  let timers: NodeJS.Timeout[] = [];
  const cleanup = async () => {
    for (const t of timers) clearInterval(t);
    timers = [];
    for (const ws of sockets) ws.terminate();
    const exit = server ? await server.term(10_000) : null;
    // What the server left running: ffmpeg processes reading our RTSP ports or our private copy of the video.
    await new Promise((r) => setTimeout(r, 500));
    const left = [...new Set([...rtsp.flatMap((r) => ffmpegProcessesWith(`:${r.port}/`)), ...ffmpegProcessesWith(video)])];
    await Promise.all(rtsp.map((r) => r.kill()));
    rmSync(tmp, { recursive: true, force: true });
    return { exit, left };
  };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    say('interrupted: stopping');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const useRtsp = !opt.files && requireRtspServer();
    say(`soak: ${N} ${useRtsp ? 'RTSP' : 'file'} camera(s) of ${SOURCE} at ${FPS} fps, ${CLIENTS} client(s), ${MINUTES} min`);
    if (useRtsp) for (let i = 0; i < N; i++) rtsp.push(await startRtspServer(SOURCE));
    else copyFileSync(SOURCE, video);
    server = await startChildServer({ dataDir: join(tmp, 'data') });
    const { url, wsUrl, pid } = server;
    const stats = { events: 0, faces: 0, latencies: [] as number[], reconnects: 0 };
    for (let i = 0; i < CLIENTS; i++) sockets.push(await connectClient(wsUrl, i === 0 ? stats : null));
    const cameraIds: string[] = [];
    for (let i = 0; i < N; i++) {
      const body = useRtsp ? { url: rtsp[i].url, fps: FPS, name: `soak${i}` } : { url: `file://${video}`, loop: true, fps: FPS, name: `soak${i}` };
      const r = await fetch(`${url}/api/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (r.status !== 201) throw new Error(`camera ${i}: ${r.status} ${await r.text()}`);
      cameraIds.push(((await r.json()) as { id: string }).id);
    }
    // Start counting once every camera streams (ffmpeg probe + first frame).
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const cams = (await (await fetch(`${url}/api/cameras`)).json()) as { status: string }[];
      if (cams.every((c) => c.status === 'streaming')) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    // Camera-server faults: kill one RTSP server and bring it back 2 s later (files: SIGKILL one camera's ffmpeg).
    let restarts = 0;
    let next = 0;
    if (RESTART_EVERY_S > 0) {
      timers.push(
        setInterval(() => {
          const i = next++ % N;
          restarts++;
          if (useRtsp) {
            void rtsp[i]
              .kill()
              .then(() => new Promise((r) => setTimeout(r, 2000)))
              .then(() => rtsp[i].restart())
              .catch((e: unknown) => say(`restarting RTSP server ${i}: ${(e as Error).message}`));
          } else {
            const victim = childProcesses(pid, 'ffmpeg')[0];
            if (victim) process.kill(victim, 'SIGKILL');
          }
        }, RESTART_EVERY_S * 1000),
      );
    }

    const samples: Sample[] = [];
    const allLatencies: number[] = [];
    const t0 = Date.now();
    let last = { t: t0, events: 0, faces: 0 };
    const header = 't(s)  rss(MiB)  fds  sock  ffmpeg  ev/s  faces/s  lat p50/p95/p99 ms  lag p99/max ms  reconnects  restarts';
    say(header);
    const take = async () => {
      const now = Date.now();
      const dt = (now - last.t) / 1000;
      const rate = (n: number) => (dt < 1 ? 0 : Math.round((n / dt) * 10) / 10); // the start sample has no interval
      const lat = stats.latencies.splice(0).sort((a, b) => a - b);
      for (const l of lat) allLatencies.push(l);
      const lag = await eventLoopLag(url);
      const s: Sample = {
        t: Math.round((now - t0) / 1000),
        rssMiB: Math.round((rssKiB(pid) ?? NaN) / 102.4) / 10,
        fds: openFds(pid) ?? NaN,
        sockets: socketFds(pid),
        ffmpeg: childProcesses(pid, 'ffmpeg').length,
        eventsPerSec: rate(stats.events - last.events),
        facesPerSec: rate(stats.faces - last.faces),
        p50: percentile(lat, 50),
        p95: percentile(lat, 95),
        p99: percentile(lat, 99),
        lagP99Ms: Math.round(lag.p99 * 10) / 10,
        lagMaxMs: Math.round(lag.max * 10) / 10,
        reconnects: stats.reconnects,
        restarts,
      };
      last = { t: now, events: stats.events, faces: stats.faces };
      samples.push(s);
      say(
        `${String(s.t).padStart(4)}  ${s.rssMiB.toFixed(1).padStart(8)}  ${String(s.fds).padStart(3)}  ${String(s.sockets).padStart(4)}  ${String(s.ffmpeg).padStart(6)}  ` +
          `${s.eventsPerSec.toFixed(1).padStart(4)}  ${s.facesPerSec.toFixed(1).padStart(7)}  ${`${s.p50}/${s.p95}/${s.p99}`.padStart(18)}  ` +
          `${`${s.lagP99Ms}/${s.lagMaxMs}`.padStart(14)}  ${String(s.reconnects).padStart(10)}  ${String(s.restarts).padStart(8)}`,
      );
    };
    last = { t: Date.now(), events: stats.events, faces: stats.faces };
    const atStart = { events: stats.events, faces: stats.faces };
    await take(); // the start
    const end = t0 + MINUTES * 60_000;
    while (Date.now() < end && !interrupted) {
      await new Promise((r) => setTimeout(r, Math.min(SAMPLE_S * 1000, end - Date.now())));
      if (!interrupted) await take();
    }
    for (const t of timers) clearInterval(t);
    timers = [];
    // Let a camera server that was mid-restart come back, so the end figures compare like with like.
    await new Promise((r) => setTimeout(r, RESTART_EVERY_S > 0 ? 4000 : 0));
    if (RESTART_EVERY_S > 0) await take();

    const first = samples[0];
    const lastS = samples.at(-1)!;
    // RSS growth from minute 10 (or, on shorter runs, from the middle of the run) to the end.
    const refT = lastS.t >= 20 * 60 ? 600 : Math.floor(lastS.t / 2);
    const ref = samples.find((s) => s.t >= refT) ?? first;
    const sorted = allLatencies.sort((a, b) => a - b);
    const runS = (lastS.t - first.t) || 1;
    const summary = {
      cameras: N,
      sourceKind: useRtsp ? 'rtsp' : 'file',
      fps: FPS,
      clients: CLIENTS,
      minutes: Math.round((lastS.t / 60) * 10) / 10,
      rssMiB: { start: first.rssMiB, max: Math.max(...samples.map((s) => s.rssMiB)), end: lastS.rssMiB },
      rssGrowth: { fromSecond: ref.t, percent: Math.round(((lastS.rssMiB - ref.rssMiB) / ref.rssMiB) * 1000) / 10 },
      eventsPerSec: Math.round(((stats.events - atStart.events) / runS) * 10) / 10,
      facesPerSec: Math.round(((stats.faces - atStart.faces) / runS) * 10) / 10,
      events: sorted.length,
      latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN },
      eventLoopLagMs: { p99Max: Math.max(...samples.map((s) => s.lagP99Ms)), max: Math.max(...samples.map((s) => s.lagMaxMs)) },
      reconnects: lastS.reconnects,
      cameraServerRestarts: restarts,
      fds: { start: first.fds, end: lastS.fds },
      sockets: { start: first.sockets, end: lastS.sockets },
      ffmpeg: { start: first.ffmpeg, end: lastS.ffmpeg },
      shutdown: null as null | { code: number | null; signal: string | null; ms: number; ffmpegLeft: number },
      leaks: [] as string[],
      pass: false,
      samples,
    };
    const { exit, left } = await cleanup();
    server = undefined;
    summary.shutdown = exit && { code: exit.code, signal: exit.signal, ms: exit.ms, ffmpegLeft: left.length };
    if (summary.ffmpeg.end !== summary.ffmpeg.start) summary.leaks.push(`ffmpeg children ${summary.ffmpeg.start} → ${summary.ffmpeg.end}`);
    if (summary.fds.end - summary.fds.start > 16) summary.leaks.push(`open fds ${summary.fds.start} → ${summary.fds.end}`);
    if (summary.sockets.end - summary.sockets.start > 8) summary.leaks.push(`sockets ${summary.sockets.start} → ${summary.sockets.end}`);
    if (left.length) summary.leaks.push(`${left.length} ffmpeg process(es) left after shutdown`);
    if (!exit || exit.code !== 0) summary.leaks.push(`server exit ${JSON.stringify(exit)}`);
    const rssOk = lastS.t < 20 * 60 || summary.rssGrowth.percent <= 10;
    summary.pass = summary.leaks.length === 0 && rssOk && summary.events > 0;

    if (opt.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const { samples: _omit, ...rest } = summary;
      void _omit;
      say('\nsummary');
      for (const [k, v] of Object.entries(rest)) say(`  ${k.padEnd(22)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    }
    return summary.pass ? 0 : 1;
  } catch (e) {
    say(`soak failed: ${(e as Error).stack ?? String(e)}`);
    if (server) say(server.log().slice(-3000));
    await cleanup();
    return 2;
  }
}

void main().then((code) => process.exit(code));
