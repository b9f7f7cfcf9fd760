/**
 * The real server as a separate process (`node --import tsx src/main.ts`), for what an in-process app cannot show:
 * kill -9, SIGTERM, exit codes, RSS and open descriptors. One process, no tsx wrapper: the pid is the server's.
 */
import Database from 'better-sqlite3';
import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const LISTENING = /listening on (http:\/\/[^\s]+)/;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildServer {
  readonly pid: number;
  readonly url: string;
  readonly wsUrl: string;
  readonly dataDir: string;
  readonly process: ChildProcess;
  /** Resolves when the process has exited (and its stdio closed). */
  readonly exited: Promise<ChildExit>;
  /** Everything it printed so far (stdout + stderr). */
  log(): string;
  /** SIGKILL: a crash. Resolves when the process is gone. */
  kill9(): Promise<ChildExit>;
  /** SIGTERM and wait at most `timeoutMs`; resolves with the exit and how long it took (SIGKILL after the timeout). */
  term(timeoutMs?: number): Promise<ChildExit & { ms: number; timedOut: boolean }>;
}

export interface ChildServerOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** How long to wait for the "listening on" line. */
  startTimeoutMs?: number;
  /** `source` (default): `node --import tsx src/main.ts`; `dist`: the built server, `node dist/main.js` (npm run build first). */
  entry?: 'source' | 'dist';
  /** Pin the process (and its threads and ffmpeg children) to this CPU core: `taskset -c <cpu>` execs node, so the pid stays the server's. */
  cpu?: number;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startChildServer(opts: ChildServerOptions): Promise<ChildServer> {
  const nodeArgs = opts.entry === 'dist' ? [join(ROOT, 'dist', 'main.js')] : ['--import', 'tsx', join(ROOT, 'src', 'main.ts')];
  const [command, args] =
    opts.cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(opts.cpu), process.execPath, ...nodeArgs]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      NO_COLOR: '1',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: opts.dataDir,
      MODELS_DIR: join(ROOT, 'models'),
      SERVE_DASHBOARD: 'false',
      LOG_LEVEL: 'log', // the "listening on" line below is a `log`-level message
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const exited = new Promise<ChildExit>((res) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      res({ code, signal });
    }),
  );
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server not listening within ${opts.startTimeoutMs ?? 30_000} ms:\n${out}`)), opts.startTimeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = LISTENING.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((e) => {
      clearTimeout(timer);
      rej(new Error(`server exited (${e.code ?? e.signal}) before listening:\n${out}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const pid = child.pid!;
  return {
    pid,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
    dataDir: opts.dataDir,
    process: child,
    exited,
    log: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    async term(timeoutMs = 10_000) {
      const t0 = Date.now();
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) child.kill('SIGKILL');
      const e = await exited;
      return { ...e, ms: Date.now() - t0, timedOut };
    },
  };
}

/** `PRAGMA integrity_check` (and foreign keys) of the server's database, through a separate connection. */
export function checkDatabase(dataDir: string): { integrity: string; foreignKeyViolations: number } {
  const db = new Database(join(dataDir, 'iexpressionnet.db'));
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const fk = (db.pragma('foreign_key_check') as unknown[]).length;
    return { integrity, foreignKeyViolations: fk };
  } finally {
    db.close();
  }
}

/** Rows of one query on the server's database (a separate, short-lived connection). */
export function queryDatabase<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'iexpressionnet.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Resident set size of a process in KiB (/proc/<pid>/status VmRSS), or null when it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of a process (/proc/<pid>/fd), or null when it is gone. */
export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Live child processes of `pid` whose executable name contains `name` (from /proc/<child>/stat's ppid). */
export function childProcesses(pid: number, name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z' && comm.includes(name)) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}
