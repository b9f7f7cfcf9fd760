import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve(__dirname, 'rtsp-server.py');
export const RTSP_APT_PACKAGES =
  'gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav python3-gi';

/**
 * Whether the GStreamer RTSP server can run here (Python GI bindings + GstRtspServer + the elements it uses).
 * Like requireTool: false with a message naming the packages, but throws under CI=true.
 */
export function requireRtspServer(): boolean {
  const probe = spawnSync(
    PYTHON,
    [
      '-c',
      "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');" +
        'from gi.repository import Gst, GstRtspServer; Gst.init(None);' +
        "missing=[n for n in ['qtdemux','h264parse','rtph264pay'] if Gst.ElementFactory.find(n) is None];" +
        'assert not missing, missing',
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (probe.status === 0) return true;
  const message = `the GStreamer RTSP test server cannot run (${(probe.stderr || String(probe.error ?? '')).trim().split('\n').at(-1)}): \`apt-get install -y ${RTSP_APT_PACKAGES}\``;
  if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
  console.warn(`skipping: ${message}`);
  return false;
}

/** A TCP port that was free a moment ago (the OS picks it; never hard-coded). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export interface RtspServer {
  port: number;
  url: string;
  readonly pid: number | undefined;
  /** SIGKILL (a crashed server) and wait for it to be gone. */
  kill(): Promise<void>;
  /** SIGSTOP: the server freezes with its sockets open. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Start again on the same port (after kill). */
  restart(): Promise<void>;
}

/** Starts rtsp-server.py serving `video` (H.264 MP4) on a free port; resolves when it prints READY. */
export async function startRtspServer(video: string, opts: { port?: number; ffmpeg?: string } = {}): Promise<RtspServer> {
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;

  const launch = () =>
    new Promise<void>((res, rej) => {
      const c = spawn(PYTHON, [SCRIPT, String(port), video, '--ffmpeg', opts.ffmpeg ?? 'ffmpeg'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      let err = '';
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        rej(new Error(`RTSP server not ready in 30 s: ${err}`));
      }, 30_000);
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      c.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('READY')) {
          clearTimeout(timer);
          res();
        }
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`RTSP server exited with ${code}: ${err}`));
      });
    });

  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await gone;
  };

  await launch();
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    port,
    url: `rtsp://127.0.0.1:${port}/stream`,
    get pid() {
      return child?.pid;
    },
    kill,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    restart: async () => {
      await kill();
      await launch();
    },
  };
}

/**
 * Live (non-zombie) processes whose executable name contains "ffmpeg" and one of whose arguments contains `marker`
 * (a camera's URL or file path), read from /proc. Linux only.
 */
export function ffmpegProcessesWith(marker: string): number[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv.length || !argv[0].split('/').at(-1)!.includes('ffmpeg')) continue;
      if (!argv.some((a) => a.includes(marker))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z') pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

export interface TcpProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to 127.0.0.1:targetPort that models a slow network path: every chunk, both ways, is delayed by
 * `delayMs` (order kept), and the server→client direction is throttled to `bytesPerSec`.
 */
export async function startTcpProxy(targetPort: number, opts: { delayMs?: number; bytesPerSec?: number } = {}): Promise<TcpProxy> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('node:net') as typeof import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const pipe = (from: import('node:net').Socket, to: import('node:net').Socket, throttle: boolean) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      from.pause();
      const wait = (opts.delayMs ?? 0) + (throttle && opts.bytesPerSec ? (chunk.length / opts.bytesPerSec) * 1000 : 0);
      chain = chain.then(
        () =>
          new Promise<void>((r) =>
            setTimeout(() => {
              if (!to.destroyed) to.write(chunk);
              from.resume();
              r();
            }, wait),
          ),
      );
    });
    from.on('close', () => void chain.then(() => to.destroy()));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream, false);
    pipe(upstream, client, true);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP server that answers every connection with random bytes (a "camera" returning garbage). */
export async function startGarbageServer(): Promise<TcpProxy & { connections: number }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('node:net') as typeof import('node:net');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const sockets = new Set<import('node:net').Socket>();
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.write(randomBytes(4096));
    s.end(randomBytes(1024));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
