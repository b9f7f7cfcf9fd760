import { Observable } from 'rxjs';
import { Frame } from '../contracts/frames';
import { redactUrl } from './camera-url';
import type { FfmpegInfo } from './ffmpeg.locator';
import { FrameCutter } from './frame-cutter';
import { IngestError } from './ingest.errors';
import { ProcessSpawner, SpawnedProcess } from './process.spawner';

/**
 * What clients may learn about a failed source: a category, never the upstream's own words ("403 Forbidden", a
 * server banner, a redirect target). The full stderr line goes to the server log only.
 */
export type SourceFailure = 'unreachable' | 'refused' | 'auth_required' | 'not_video' | 'timeout' | 'error';

/** The client-facing text of each category (docs/INGEST.md, "Reasons"). */
export const SOURCE_FAILURE_TEXT: Record<SourceFailure, string> = {
  unreachable: 'unreachable: the camera could not be reached or did not serve a stream',
  refused: 'refused: the camera refused the connection',
  auth_required: 'auth required: the camera asks for credentials (missing or not accepted)',
  not_video: 'not a video: the source holds no readable video stream',
  timeout: 'timeout: the camera did not answer in time',
  error: 'error: ffmpeg could not read the source',
};

// Matched against ffmpeg's (redacted) stderr tail, most specific first. Texts are ffmpeg's and the C library's
// (strerror) messages, measured on ffmpeg 4.x-7.x: "Server returned 403 Forbidden (access denied)",
// "method DESCRIBE failed: 401 Unauthorized", "Connection refused", "Invalid data found when processing input".
const FAILURE_PATTERNS: Array<[RegExp, SourceFailure]> = [
  [/(?:Server returned|failed:)\s*40[137]\b|\bUnauthorized\b|\bForbidden\b|access denied/i, 'auth_required'],
  [/Connection refused/i, 'refused'],
  [/timed out/i, 'timeout'],
  [/Invalid data found|moov atom not found|does not contain any stream|matches no streams|could not find codec parameters/i, 'not_video'],
  [/Server returned|method [A-Z_]+ failed|Failed to resolve|Name or service not known|nodename nor servname|No route to host|Network is unreachable|Host is unreachable|Connection reset|Broken pipe|Network is down/i, 'unreachable'],
];

/** The category of an ffmpeg failure, from its stderr tail (the last lines are the most telling). */
export function classifyFfmpegFailure(tail: readonly string[]): SourceFailure {
  const lines = tail.filter((l) => !NOISE.test(l));
  for (let i = lines.length - 1; i >= 0; i--) {
    for (const [pattern, category] of FAILURE_PATTERNS) if (pattern.test(lines[i])) return category;
  }
  return 'error';
}

/**
 * ffmpeg ended with a non-zero code or a signal. `reason` (= message) is its last meaningful stderr line, redacted:
 * for the server log. `publicReason` is what clients see: the category and how ffmpeg ended, no upstream text.
 */
export class FfmpegExitError extends Error {
  override readonly name = 'FfmpegExitError';
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly reason: string,
    readonly category: SourceFailure = 'error',
  ) {
    super(reason);
  }

  get publicReason(): string {
    const how = this.signal ? `ffmpeg killed by ${this.signal}` : this.code === null ? 'ffmpeg' : `ffmpeg exit code ${this.code}`;
    return `${SOURCE_FAILURE_TEXT[this.category]} (${how})`;
  }
}

export interface FfmpegFramesOptions {
  spawner: ProcessSpawner;
  /** Where ffmpeg is and what it can do (FfmpegLocator.locate). */
  locate: () => Promise<FfmpegInfo>;
  /** Argument array for this binary (buildFfmpegArgs with its capabilities). Must use `-loglevel info`. */
  args: (ffmpeg: FfmpegInfo) => string[];
  cameraId: string;
  /** Per camera, shared across restarts so frame ids keep increasing. */
  nextFrameId: () => number;
  /** Called with the child once spawned (the runner awaits its exit on stop). */
  onSpawn?: (child: SpawnedProcess) => void;
  /** SIGTERM, then SIGKILL after this many ms if still alive. */
  killGraceMs?: number;
  /** stdout bytes allowed before the frame size is known from stderr; more = something is wrong. */
  maxPendingBytes?: number;
  now?: () => number;
}

// The output stream line, e.g. "Stream #0:0: Video: rawvideo (BGR[24] / 0x18524742), bgr24(pc, …), 640x360 [SAR …".
// The size must be followed by a space/comma/end, so the fourcc "0x18524742)" never matches.
const OUTPUT_SIZE = /Stream #\d+:\d+.*Video: rawvideo.*?[\s,](\d{1,5})x(\d{1,5})(?=[\s,]|$)/;
const STDERR_TAIL_LINES = 20;

/** Reads the output frame size from ffmpeg's `-loglevel info` stderr: the first rawvideo stream after "Output #0". */
export class OutputSizeParser {
  private inOutput = false;
  size: { width: number; height: number } | null = null;

  line(line: string): void {
    if (this.size) return;
    if (/^Output #0\b/.test(line)) this.inOutput = true;
    else if (this.inOutput) {
      const m = OUTPUT_SIZE.exec(line);
      if (m) this.size = { width: Number(m[1]), height: Number(m[2]) };
    }
  }
}

/** Lines ffmpeg prints at info level that say nothing about why it failed. */
const NOISE = /^\s*(Input #|Output #|Stream|Metadata|Duration|[a-z_]+\s+:|Press \[q\]|frame=|video:|\[.*\] (?:max_analyze|.*decoding for stream))/;

function failureReason(tail: string[], code: number | null, signal: NodeJS.Signals | null): string {
  const meaningful = tail.filter((l) => !NOISE.test(l));
  const last = meaningful.at(-1) ?? tail.at(-1);
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  return last ? `ffmpeg ${how}: ${last.trim()}` : `ffmpeg ${how}`;
}

/**
 * One ffmpeg run as an Observable of Frames. Subscribing spawns ffmpeg; unsubscribing kills it (SIGTERM, then
 * SIGKILL after a grace period). Completes when ffmpeg exits with code 0 (end of a file — or, measured on ffmpeg 5.1,
 * an RTSP server that died: the caller decides what an end means); errors with FfmpegExitError on a non-zero exit,
 * IngestError('unavailable') when ffmpeg cannot be found or spawned. Under overload nothing is queued here: frames are
 * emitted synchronously as they complete; stdout backpressure is the OS pipe (ffmpeg blocks when it is full).
 */
export function ffmpegFrames(o: FfmpegFramesOptions): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    const now = o.now ?? Date.now;
    const graceMs = o.killGraceMs ?? 3000;
    const maxPending = o.maxPendingBytes ?? 64 * 1024 * 1024;
    let child: SpawnedProcess | undefined;
    let closed = false;
    let killTimer: NodeJS.Timeout | undefined;

    const fail = (err: Error) => {
      if (closed) return;
      closed = true;
      subscriber.error(err);
      child?.kill('SIGKILL');
    };

    const start = (info: FfmpegInfo) => {
      if (closed) return;
      try {
        child = o.spawner.spawn(info.path, o.args(info));
      } catch (err) {
        fail(new IngestError('unavailable', `could not start ffmpeg: ${(err as Error).message}`, true));
        return;
      }
      o.onSpawn?.(child);
      const sizeParser = new OutputSizeParser();
      const tail: string[] = [];
      let stderrRest = '';
      let cutter: FrameCutter | null = null;
      let pending: Buffer[] = [];
      let pendingBytes = 0;

      const emit = (data: Buffer) => {
        if (closed || !cutter) return;
        const size = sizeParser.size!;
        subscriber.next({ cameraId: o.cameraId, frameId: o.nextFrameId(), ts: now(), width: size.width, height: size.height, data });
      };
      const startCutting = () => {
        if (cutter || !sizeParser.size) return;
        cutter = new FrameCutter(sizeParser.size.width * sizeParser.size.height * 3);
        const queued = pending;
        pending = [];
        pendingBytes = 0;
        for (const chunk of queued) cutter.push(chunk, emit);
      };

      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        const lines = (stderrRest + text).split(/\r?\n|\r/);
        stderrRest = lines.pop() ?? '';
        if (stderrRest.length > 4096) stderrRest = stderrRest.slice(-4096);
        for (const raw of lines) {
          if (!raw.trim()) continue;
          const line = redactUrl(raw).slice(0, 500);
          sizeParser.line(line);
          tail.push(line);
          if (tail.length > STDERR_TAIL_LINES) tail.shift();
        }
        startCutting();
      });
      child.stdout.on('data', (chunk: Buffer) => {
        if (closed) return;
        if (cutter) cutter.push(chunk, emit);
        else {
          // stdout and stderr are separate pipes: frame bytes can arrive before the header line that sizes them.
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes > maxPending) fail(new FfmpegExitError(null, null, 'could not read the frame size from ffmpeg'));
        }
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'EACCES') {
          fail(new IngestError('unavailable', `ffmpeg not found: cannot execute ${info.path} (${err.code})`));
        } else fail(new IngestError('unavailable', `could not start ffmpeg: ${err.message}`, true));
      });
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(killTimer);
        if (stderrRest.trim()) tail.push(redactUrl(stderrRest).slice(0, 500));
        if (closed) return;
        closed = true;
        if (code === 0) subscriber.complete();
        else subscriber.error(new FfmpegExitError(code, signal, failureReason(tail, code, signal), classifyFfmpegFailure(tail)));
      });
    };

    o.locate().then(start, (err: unknown) =>
      fail(err instanceof Error ? err : new IngestError('unavailable', `ffmpeg not found: ${String(err)}`)),
    );

    return () => {
      closed = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, graceMs);
      killTimer.unref();
    };
  });
}
