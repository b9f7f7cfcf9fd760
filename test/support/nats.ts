/**
 * NATS servers started by the tests themselves (Debian's nats-server unit needs systemd, which these machines do not
 * run): one server with JetStream, or a cluster of three on loopback, each on free ports with its own store folder.
 * A test may kill one (SIGKILL: a crash) and restart it on the same ports and store, so clients reconnect to the same
 * URL and JetStream finds its data again.
 *
 *   const bin = requireNatsServer();                       // at collection time: skip locally, fail under CI=true
 *   describe.skipIf(!bin)('…', () => { let nats: NatsServer; beforeAll(async () => (nats = await startNatsServer())); … });
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './require-tool';

/** The nats-server binary, or null (skip) when it is missing; throws under CI=true (requireTool's convention). */
export function requireNatsServer(): string | null {
  return requireTool('nats-server', 'nats-server');
}

export interface NatsServer {
  readonly name: string;
  /** Client URL, `nats://127.0.0.1:<port>` (the same across restarts). */
  readonly url: string;
  readonly port: number;
  /** The JetStream store folder (kept across restarts, removed by stop()). */
  readonly storeDir: string;
  /** pid of the running process, null while it is down. */
  pid(): number | null;
  /** Everything the current and previous processes printed. */
  log(): string;
  /** Sends `signal` (SIGKILL by default: a crash) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and store; resolves when it accepts clients. */
  restart(): Promise<void>;
  /** Kills it (if running) and deletes its folder. */
  stop(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Every server's client URL, comma-separated (the NATS_URL form). */
  readonly urls: string;
  /** Resolves when JetStream in the cluster has a meta leader (streams can be created with replicas = size). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A port nobody listens on now (the kernel picks it; closed again before nats-server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface ServerSpec {
  name: string;
  port: number;
  dir: string;
  /** Arguments after the binary. */
  args: string[];
  /** A log line that means "accepting clients" (printed once per start). */
  ready: RegExp;
}

function managed(bin: string, spec: ServerSpec, startTimeoutMs: number): NatsServer & { start(): Promise<void> } {
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async (): Promise<void> => {
    if (child) throw new Error(`nats-server ${spec.name} is already running`);
    const startedAt = output.length;
    const proc = spawn(bin, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    const onData = (b: Buffer) => (output += b.toString());
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    exited = new Promise<void>((resolve) =>
      proc.once('close', () => {
        live.delete(proc);
        if (child === proc) child = null;
        resolve();
      }),
    );
    const deadline = Date.now() + startTimeoutMs;
    while (!spec.ready.test(output.slice(startedAt))) {
      if (child !== proc) throw new Error(`nats-server ${spec.name} exited while starting:\n${output.slice(startedAt)}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`nats-server ${spec.name} not ready within ${startTimeoutMs} ms:\n${output.slice(startedAt)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    await exited;
  };

  return {
    name: spec.name,
    url: `nats://127.0.0.1:${spec.port}`,
    port: spec.port,
    storeDir: spec.dir,
    pid: () => child?.pid ?? null,
    log: () => output,
    kill,
    start,
    restart: start,
    stop: async () => {
      await kill('SIGKILL');
      rmSync(spec.dir, { recursive: true, force: true });
    },
  };
}

/** One nats-server with JetStream on a free loopback port and a fresh store folder; `extraArgs` go after ours (e.g. `-m PORT` for monitoring). */
export async function startNatsServer(opts: { name?: string; startTimeoutMs?: number; extraArgs?: string[] } = {}): Promise<NatsServer> {
  const bin = requireNatsServer();
  if (!bin) throw new Error('nats-server is not installed');
  const name = opts.name ?? 'iex-test';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'iexpr-nats-'));
  const server = managed(
    bin,
    { name, port, dir, args: ['-a', '127.0.0.1', '-p', String(port), '-n', name, '-js', '-sd', dir, ...(opts.extraArgs ?? [])], ready: /Server is ready/ },
    opts.startTimeoutMs ?? 15_000,
  );
  await server.start();
  return server;
}

/**
 * `size` nats-servers (3 by default) in one cluster: a config file per server (distinct server_name, client and route
 * ports on loopback, routes to every other server, JetStream with its own store). Resolves when every server accepts
 * clients; call ready() before creating replicated streams.
 */
export async function startNatsCluster(opts: { size?: number; startTimeoutMs?: number } = {}): Promise<NatsCluster> {
  const bin = requireNatsServer();
  if (!bin) throw new Error('nats-server is not installed');
  const size = opts.size ?? 3;
  const ports: { client: number; route: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort() });
  const servers = ports.map(({ client, route }, i) => {
    const name = `iex-n${i + 1}`;
    const dir = mkdtempSync(join(tmpdir(), `iexpr-nats-${name}-`));
    const routes = ports.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.route}`);
    const conf = join(dir, 'server.conf');
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${client}`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
        `cluster {`,
        `  name: iex-test`,
        `  listen: 127.0.0.1:${route}`,
        `  routes: [${routes.join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
    return managed(bin, { name, port: client, dir, args: ['-c', conf], ready: /Server is ready/ }, opts.startTimeoutMs ?? 20_000);
  });
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
  return {
    servers,
    urls: servers.map((s) => s.url).join(','),
    ready: async () => {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
      // Every server logs the meta leader it learns of (itself included) once JetStream's cluster has formed.
      while (!servers.some((s) => /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(s.log()))) {
        if (Date.now() > deadline) throw new Error(`JetStream cluster formed no meta leader:\n${servers.map((s) => s.log()).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
