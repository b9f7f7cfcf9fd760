import { Observable, Subject, Subscription } from 'rxjs';
import { CameraState, CameraStatus } from '../contracts/cameras';
import { Frame } from '../contracts/frames';
import { redactUrl } from './camera-url';
import type { Clock } from './clock';
import { FfmpegExitError } from './ffmpeg.source';
import { IngestError } from './ingest.errors';
import { SpawnedProcess, waitForExit } from './process.spawner';

export interface RunnerSettings {
  /** A streaming source with no frame for this long is killed and restarted (a frozen server hangs ffmpeg forever). */
  watchdogMs: number;
  /** The first frame of an attempt may take this long (RTSP connect + stream probing). */
  startTimeoutMs: number;
  /** Restart delay after the n-th consecutive failure: min(backoffMaxMs, backoffBaseMs * 2^(n-1)). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Streaming this long without a failure resets the failure count (and so the backoff). */
  healthyMs: number;
  /** Consecutive failures before the camera goes `failed` (a retry starts over). */
  maxRestarts: number;
}

export interface AttemptContext {
  nextFrameId: () => number;
  onSpawn: (child: SpawnedProcess) => void;
}

/** Starts one attempt (e.g. one ffmpeg process); the runner decides what its end means. */
export type FrameSourceFactory = (ctx: AttemptContext) => Observable<Frame>;

const FPS_WINDOW_MS = 5000;

/**
 * One camera's life: `connecting` → `streaming` (first frame) → `reconnecting` (ffmpeg exited or stalled; restart
 * after backoff) → … → `failed` (after maxRestarts consecutive failures, or at once for a fault a restart cannot fix)
 * or `stopped` (removed, or a non-looping file reached its end).
 * Live sources (RTSP, HTTP, device, looping files): ANY exit is a fault — measured, ffmpeg 5.1 exits with code 0
 * within 0.2 s when an RTSP server dies, just as at a normal end.
 */
export class CameraRunner {
  readonly frames$ = new Subject<Frame>();
  readonly status$ = new Subject<CameraStatus>();

  private _state: CameraState = 'stopped';
  private _reason: string | undefined;
  private _detail: string | undefined;
  private frameCounter = 0;
  private failures = 0;
  private restarts = 0;
  private attempt = 0;
  private sub?: Subscription;
  private child?: SpawnedProcess;
  private restartTimer?: unknown;
  private watchdogTimer?: unknown;
  private attemptStartedAt = 0;
  private lastFrameAt?: number;
  private streamingSince?: number;
  private framesThisAttempt = 0;
  private stopping = false;
  private readonly recent: number[] = [];

  constructor(
    readonly cameraId: string,
    /** false only for a non-looping file: its end is `stopped`, not a fault. */
    private readonly live: boolean,
    private readonly factory: FrameSourceFactory,
    private readonly settings: RunnerSettings,
    private readonly clock: Clock,
  ) {}

  get state(): CameraState {
    return this._state;
  }
  /** What clients see: a category and our own words, never the upstream's (see SourceFailure). */
  get reason(): string | undefined {
    return this._reason;
  }
  /** The last failure in full (ffmpeg's stderr line, redacted): for the server log only. */
  get detail(): string | undefined {
    return this._detail;
  }
  /** Consecutive failures so far. */
  get failureCount(): number {
    return this.failures;
  }
  /** Restarts since the runner was created. */
  get restartCount(): number {
    return this.restarts;
  }
  /** Frames per second over the last 5 s (0 when not streaming). */
  get measuredFps(): number {
    const now = this.clock.now();
    while (this.recent.length && now - this.recent[0] > FPS_WINDOW_MS) this.recent.shift();
    if (this._state !== 'streaming' || this.recent.length < 2) return 0;
    const span = Math.max(now - this.recent[0], 1000 / 60);
    return Math.round(((this.recent.length - 1) / span) * 1000 * 10) / 10;
  }
  status(): CameraStatus {
    const s: CameraStatus = { cameraId: this.cameraId, state: this._state, ts: this.clock.now() };
    if (this._reason) s.reason = this._reason;
    if (this._state === 'streaming') s.fps = this.measuredFps;
    return s;
  }

  start(): void {
    this.stopping = false;
    this.failures = 0;
    this.setState('connecting');
    this.launch();
  }

  /** From `failed` or `stopped` (or any state): start over with a fresh failure count. */
  retry(): void {
    this.cancelAttempt();
    this.start();
  }

  /** Stops for good: kills the source and resolves once its process has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.cancelAttempt();
    this.setState('stopped');
    if (child) await waitForExit(child);
  }

  private launch(): void {
    this.attempt++;
    const attempt = this.attempt;
    this.attemptStartedAt = this.clock.now();
    this.lastFrameAt = undefined;
    this.streamingSince = undefined;
    this.framesThisAttempt = 0;
    this.child = undefined;
    this.armWatchdog();
    this.sub = this.factory({
      nextFrameId: () => this.frameCounter++,
      onSpawn: (c) => {
        if (attempt === this.attempt) this.child = c;
      },
    }).subscribe({
      next: (f) => this.onFrame(attempt, f),
      error: (e: unknown) => this.onEnd(attempt, e),
      complete: () => this.onEnd(attempt, undefined),
    });
  }

  private onFrame(attempt: number, frame: Frame): void {
    if (attempt !== this.attempt || this.stopping) return;
    const now = this.clock.now();
    this.lastFrameAt = now;
    this.framesThisAttempt++;
    this.recent.push(now);
    if (this.recent.length > 600) this.recent.shift();
    if (this._state !== 'streaming') {
      this.streamingSince = now;
      this.setState('streaming');
      // From now on the stall limit (watchdogMs) applies instead of the first-frame allowance.
      if (this.watchdogTimer !== undefined) this.clock.clearTimeout(this.watchdogTimer);
      this.armWatchdog();
    } else if (this.failures > 0 && now - (this.streamingSince ?? now) >= this.settings.healthyMs) {
      this.failures = 0;
    }
    this.frames$.next(frame);
  }

  private onEnd(attempt: number, err: unknown): void {
    if (attempt !== this.attempt || this.stopping) return;
    this.sub = undefined;
    this.clearTimers();
    this._detail = err === undefined ? undefined : redactUrl(detailOf(err));
    if (err instanceof IngestError && !err.retryable) {
      this.fail(describe(err));
      return;
    }
    const reason = describe(err);
    if (!this.live) {
      if (!err && this.framesThisAttempt > 0) this.setState('stopped', 'end of file');
      else this.fail(err ? reason : 'no video frames in the file');
      return;
    }
    this.scheduleRestart(err ? reason : 'ffmpeg exited (stream ended or server gone)');
  }

  private scheduleRestart(reason: string): void {
    const now = this.clock.now();
    if (this.streamingSince !== undefined && now - this.streamingSince >= this.settings.healthyMs) this.failures = 0;
    this.failures++;
    if (this.failures >= this.settings.maxRestarts) {
      this.fail(`${reason} (gave up after ${this.failures} consecutive failures; retry to start again)`);
      return;
    }
    const delay = Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** (this.failures - 1));
    this.setState('reconnecting', `${reason}; retrying in ${Math.round(delay / 100) / 10} s`);
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.launch();
    }, delay);
  }

  /** One timer per camera, re-armed only when it fires (not per frame). */
  private armWatchdog(): void {
    const due = this.lastFrameAt === undefined
      ? this.attemptStartedAt + Math.max(this.settings.startTimeoutMs, this.settings.watchdogMs)
      : this.lastFrameAt + this.settings.watchdogMs;
    const attempt = this.attempt;
    this.watchdogTimer = this.clock.setTimeout(() => {
      this.watchdogTimer = undefined;
      if (attempt !== this.attempt || this.stopping || !this.sub) return;
      const now = this.clock.now();
      const stillDue = this.lastFrameAt === undefined
        ? this.attemptStartedAt + Math.max(this.settings.startTimeoutMs, this.settings.watchdogMs)
        : this.lastFrameAt + this.settings.watchdogMs;
      if (now < stillDue) {
        this.armWatchdog();
        return;
      }
      const waited = Math.round((now - (this.lastFrameAt ?? this.attemptStartedAt)) / 100) / 10;
      this.cancelAttempt();
      this.scheduleRestart(
        this.lastFrameAt === undefined ? `no first frame after ${waited} s` : `no frame for ${waited} s (stalled)`,
      );
    }, Math.max(0, due - this.clock.now()));
  }

  private fail(reason: string): void {
    this.cancelAttempt();
    this.setState('failed', reason);
  }

  /** Ends the current attempt (kills its process) and cancels pending timers, without a state change. */
  private cancelAttempt(): void {
    this.attempt++;
    this.clearTimers();
    const sub = this.sub;
    this.sub = undefined;
    sub?.unsubscribe();
  }

  private clearTimers(): void {
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    if (this.watchdogTimer !== undefined) this.clock.clearTimeout(this.watchdogTimer);
    this.restartTimer = this.watchdogTimer = undefined;
  }

  private setState(state: CameraState, reason?: string): void {
    const r = reason === undefined ? undefined : redactUrl(reason);
    if (state === this._state && r === this._reason) return;
    this._state = state;
    this._reason = r;
    if (state !== 'streaming') this.recent.length = 0;
    this.status$.next(this.status());
  }
}

/** The client-facing reason: for an ffmpeg exit its category (FfmpegExitError.publicReason), never stderr. */
function describe(err: unknown): string {
  if (err === undefined) return 'ended';
  if (err instanceof FfmpegExitError) return err.publicReason;
  // Our own errors (ffmpeg missing, could not spawn): local facts, no upstream text.
  return err instanceof Error ? err.message : String(err);
}

function detailOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
