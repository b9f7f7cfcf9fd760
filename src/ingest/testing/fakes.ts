import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Clock } from '../clock';
import { ProcessSpawner, SpawnedProcess } from '../process.spawner';

/** Lets stream 'data' events and promise callbacks run. */
export const flush = () => new Promise<void>((r) => setImmediate(r));

/** A clock whose timers run only when the test advances time. */
export class ManualClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, running due timers in order (and flushing I/O callbacks between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** A fake ffmpeg: the test writes its stderr header and frame bytes, and decides how it exits. */
export class FakeProcess extends EventEmitter implements SpawnedProcess {
  static nextPid = 40_000;
  readonly pid = FakeProcess.nextPid++;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly signals: NodeJS.Signals[] = [];
  /** false: ignore SIGTERM like a hung process (SIGKILL still ends it). */
  obeysSigterm = true;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
  ) {
    super();
  }

  /** The `-loglevel info` lines ffmpeg prints before writing frames. */
  header(width: number, height: number): void {
    this.stderr.write(
      `Input #0, lavfi, from 'x':\n  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 999x999, 25 tbr\n` +
        `Output #0, rawvideo, to 'pipe:1':\n` +
        `  Stream #0:0: Video: rawvideo (BGR[24] / 0x18524742), bgr24(pc, gbr/unknown/unknown, progressive), ${width}x${height}, q=2-31, 10 fps\n`,
    );
  }

  write(bytes: Buffer): void {
    this.stdout.write(bytes);
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null, stderrLine?: string): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    if (stderrLine) this.stderr.write(stderrLine + '\n');
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => this.emit('close', code, signal));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    if (signal === 'SIGKILL' || this.obeysSigterm) setImmediate(() => this.exit(null, signal));
    return true;
  }
}

export class FakeSpawner extends ProcessSpawner {
  readonly spawned: FakeProcess[] = [];
  /** Set to make spawn() report an error (like ENOENT) on the child. */
  failWith?: NodeJS.ErrnoException;
  override spawn(command: string, args: readonly string[]): FakeProcess {
    const p = new FakeProcess(command, args);
    this.spawned.push(p);
    const err = this.failWith;
    if (err) setImmediate(() => p.emit('error', err));
    return p;
  }
  get last(): FakeProcess {
    const p = this.spawned.at(-1);
    if (!p) throw new Error('nothing spawned');
    return p;
  }
}
