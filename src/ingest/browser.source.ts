import sharp from 'sharp';
import { Subject } from 'rxjs';
import { CameraState, CameraStatus } from '../contracts/cameras';
import { Frame } from '../contracts/frames';
import { acceptedFormat, describeFormats, FRAME_FORMATS } from '../inference/image-format';
import type { Clock } from './clock';
import { IngestError } from './ingest.errors';

export interface BrowserSourceOptions {
  cameraId: string;
  /** Frames arriving faster than this are dropped (counted); the browser should pace itself. */
  fps: number;
  /** Encoded bytes per frame; larger is rejected unread. */
  maxBytes: number;
  /** Decoded pixels per frame; checked from the header before decoding (decompression bombs). */
  maxPixels: number;
  /** Longest side after decoding; larger frames are downscaled like ffmpeg sources. */
  maxSide: number;
  clock: Clock;
}

export type PushOutcome =
  | { status: 'decoded'; frameId: number }
  /** Replaced by a newer frame while a decode was busy, or over the fps limit. */
  | { status: 'dropped'; why: 'busy' | 'rate' }
  | { status: 'rejected'; error: IngestError };

export interface BrowserSourceCounters {
  received: number;
  decoded: number;
  droppedBusy: number;
  droppedRate: number;
  rejected: number;
}

/** The container from magic bytes (image-format.ts); the browser's word for it is not trusted. */
const NOT_A_FRAME = `frame is not a ${describeFormats(FRAME_FORMATS)} image`;

/** Decodes one encoded image to a packed BGR24 buffer (sharp gives RGB: R and B are swapped in place). */
export async function decodeToBgr(
  buf: Buffer,
  limits: { maxBytes: number; maxPixels: number; maxSide: number },
): Promise<{ data: Buffer; width: number; height: number }> {
  if (buf.length === 0) throw new IngestError('bad_message', 'empty frame');
  if (buf.length > limits.maxBytes) {
    throw new IngestError('too_large', `frame is ${buf.length} bytes; the limit is ${limits.maxBytes}`);
  }
  const format = acceptedFormat(buf, FRAME_FORMATS);
  if (!format) throw new IngestError('bad_message', NOT_A_FRAME);
  const img = sharp(buf, { limitInputPixels: limits.maxPixels, failOn: 'error', sequentialRead: true });
  let meta: Awaited<ReturnType<typeof img.metadata>>;
  try {
    meta = await img.metadata();
  } catch (err) {
    const msg = (err as Error).message;
    // sharp checks limitInputPixels against the header, before any pixel is decoded.
    if (/pixel limit/i.test(msg)) throw new IngestError('too_large', `frame has more than ${limits.maxPixels} pixels: ${msg}`);
    throw new IngestError('bad_message', `unreadable ${format} frame: ${msg}`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new IngestError('bad_message', `${format} frame has no size`);
  if (w * h > limits.maxPixels) {
    throw new IngestError('too_large', `frame is ${w}x${h} pixels; the limit is ${limits.maxPixels} pixels`);
  }
  let out;
  try {
    out = await img
      .rotate() // honour EXIF orientation (phone cameras)
      .resize({ width: limits.maxSide, height: limits.maxSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new IngestError('bad_message', `could not decode ${format} frame: ${(err as Error).message}`);
  }
  const { data, info } = out;
  if (info.channels !== 3) throw new IngestError('bad_message', `decoded frame has ${info.channels} channels`);
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i];
    data[i] = data[i + 2];
    data[i + 2] = r;
  }
  return { data, width: info.width, height: info.height };
}

/**
 * Frames pushed by a browser over the WebSocket. Under overload: one decode at a time, and latest frame wins — a
 * frame arriving while a decode is busy replaces the one waiting (the replaced one resolves `dropped: busy`).
 * A bad frame is counted and answered with `rejected`; it never ends the stream.
 */
export class BrowserSource {
  readonly frames$ = new Subject<Frame>();
  readonly status$ = new Subject<CameraStatus>();
  readonly counters: BrowserSourceCounters = { received: 0, decoded: 0, droppedBusy: 0, droppedRate: 0, rejected: 0 };

  private _state: CameraState = 'connecting';
  private frameCounter = 0;
  private busy = false;
  private waiting?: { buf: Buffer; resolve: (o: PushOutcome) => void };
  private lastAcceptedAt = -Infinity;
  private readonly recent: number[] = [];

  constructor(private readonly o: BrowserSourceOptions) {}

  get cameraId(): string {
    return this.o.cameraId;
  }
  get state(): CameraState {
    return this._state;
  }
  get measuredFps(): number {
    const now = this.o.clock.now();
    while (this.recent.length && now - this.recent[0] > 5000) this.recent.shift();
    if (this.recent.length < 2) return 0;
    return Math.round(((this.recent.length - 1) / Math.max(now - this.recent[0], 1)) * 10_000) / 10;
  }
  status(): CameraStatus {
    const s: CameraStatus = { cameraId: this.o.cameraId, state: this._state, ts: this.o.clock.now() };
    if (this._state === 'streaming') s.fps = this.measuredFps;
    return s;
  }

  push(buf: Buffer): Promise<PushOutcome> {
    if (this._state === 'stopped') {
      return Promise.resolve({ status: 'rejected', error: new IngestError('not_found', 'browser camera is closed') });
    }
    this.counters.received++;
    // Cheap checks first, synchronously: a hostile client cannot make us queue work with garbage.
    if (buf.length > this.o.maxBytes) return Promise.resolve(this.reject(new IngestError('too_large', `frame is ${buf.length} bytes; the limit is ${this.o.maxBytes}`)));
    if (!acceptedFormat(buf, FRAME_FORMATS)) return Promise.resolve(this.reject(new IngestError('bad_message', NOT_A_FRAME)));
    const now = this.o.clock.now();
    if (now - this.lastAcceptedAt < (1000 / this.o.fps) * 0.8) {
      this.counters.droppedRate++;
      return Promise.resolve({ status: 'dropped', why: 'rate' });
    }
    this.lastAcceptedAt = now;
    return new Promise<PushOutcome>((resolve) => {
      if (this.busy) {
        if (this.waiting) {
          this.counters.droppedBusy++;
          this.waiting.resolve({ status: 'dropped', why: 'busy' });
        }
        this.waiting = { buf, resolve };
        return;
      }
      void this.decode(buf, resolve);
    });
  }

  close(): void {
    if (this._state === 'stopped') return;
    if (this.waiting) {
      this.counters.droppedBusy++;
      this.waiting.resolve({ status: 'dropped', why: 'busy' });
      this.waiting = undefined;
    }
    this.setState('stopped');
    this.frames$.complete();
    this.status$.complete();
  }

  private async decode(buf: Buffer, resolve: (o: PushOutcome) => void): Promise<void> {
    this.busy = true;
    try {
      const img = await decodeToBgr(buf, this.o);
      if (this._state === 'stopped') resolve({ status: 'dropped', why: 'busy' });
      else {
        const frame: Frame = { cameraId: this.o.cameraId, frameId: this.frameCounter++, ts: this.o.clock.now(), ...img };
        this.counters.decoded++;
        this.recent.push(frame.ts);
        if (this.recent.length > 600) this.recent.shift();
        if (this._state !== 'streaming') this.setState('streaming');
        this.frames$.next(frame);
        resolve({ status: 'decoded', frameId: frame.frameId });
      }
    } catch (err) {
      resolve(this.reject(err instanceof IngestError ? err : new IngestError('bad_message', String(err))));
    } finally {
      this.busy = false;
      const next = this.waiting;
      this.waiting = undefined;
      if (next) void this.decode(next.buf, next.resolve);
    }
  }

  private reject(error: IngestError): PushOutcome {
    this.counters.rejected++;
    return { status: 'rejected', error };
  }

  private setState(state: CameraState): void {
    this._state = state;
    this.status$.next(this.status());
  }
}
