import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ALIGNED_SIZE } from '../embedding/face-align';
import { EMBEDDING_DIM } from '../embedding/face-embedder';
import type { ViewEmbedder } from '../embedding/identify-faces';
import { FEATURES } from '../heads/head-shape';
import type { AnalyzedFace, AnalyzeRequest, FeatureExtractor } from '../inference.types';
import { ExecutionProviderError } from '../ort.sessions';
import { INPUT_SIZE } from '../preprocess';
import { WorkerEntry, workerEntryFor } from '../worker-entry';
import type { Detection } from '../yunet.decode';
import type { BgrImage } from '../yunet.detector';
import type { FromInferenceWorker, InferenceWorkerInit, PackedFrame, ToInferenceWorker } from './inference.messages';

export const inferenceWorkerEntry = (): WorkerEntry => workerEntryFor(join(__dirname), 'inference.worker');

export class InferenceWorkerError extends Error {}

interface Pending {
  resolve: (m: FromInferenceWorker) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker | null;
  pending: Map<number, Pending>;
  /** consecutive failed starts / crashes; reset by a request answered */
  failures: number;
}

export interface InferencePoolOptions {
  size: number;
  init: InferenceWorkerInit;
  entry?: WorkerEntry;
  /** A crashed worker is started again after this delay (doubled per consecutive failure, at most 30 s). */
  restartDelayMs?: number;
  /** What its workers are called in logs and errors (default "inference worker"). */
  label?: string;
}

/**
 * A fixed set of worker threads, each with its own detector and trunk sessions. onnxruntime-node runs a session
 * synchronously on the calling thread, so without this every inference call would stall the event loop that serves
 * cameras and WebSockets, and a process would use one core. A batch is split across the workers (PooledFaceDetector,
 * PooledFeatureExtractor), which is where batching pays on a CPU: a batch of 8 frames runs as 2 x 4 on 2 cores, while
 * frames taken one at a time leave all but one worker idle.
 *
 * Overload: requests queue per worker in arrival order; the pipeline upstream keeps at most PIPELINE_DEPTH batches in
 * flight, so the queue is bounded by that. A worker that crashes fails its own pending requests (the pipeline counts
 * the batch as an error) and is started again; the others keep serving.
 */
export class InferencePool {
  private readonly logger = new Logger('InferencePool');
  private readonly slots: Slot[];
  private readonly entry: WorkerEntry;
  private nextId = 1;
  private closed = false;
  private readonly label: string;

  private constructor(private readonly options: InferencePoolOptions) {
    this.entry = options.entry ?? inferenceWorkerEntry();
    this.label = options.label ?? 'inference worker';
    this.slots = Array.from({ length: options.size }, (_, index) => ({ index, worker: null, pending: new Map(), failures: 0 }));
  }

  /** Starts every worker and waits until each has loaded its models; the first worker's failure is thrown. */
  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`inference pool size must be a positive integer (got ${options.size})`);
    const pool = new InferencePool(options);
    try {
      await Promise.all(pool.slots.map((s) => pool.spawn(s)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Detect faces in `images` on one worker (the caller splits batches; see PooledFaceDetector). */
  async detect(images: readonly BgrImage[]): Promise<Detection[][]> {
    const { buffer, frames } = pack(images);
    const reply = await this.request((id) => ({ type: 'detect', id, buffer, frames }), [buffer]);
    if (reply.type !== 'detections') throw new InferenceWorkerError(`${this.label} answered ${reply.type} to detect`);
    return reply.detections;
  }

  /** Detect, crop and (request.features) run the trunk on one worker, in one round trip. */
  async analyze(images: readonly BgrImage[], request: AnalyzeRequest): Promise<AnalyzedFace[][]> {
    const { buffer, frames } = pack(images);
    const reply = await this.request((id) => ({ type: 'analyze', id, buffer, frames, request }), [buffer]);
    if (reply.type !== 'analysis') throw new InferenceWorkerError(`${this.label} answered ${reply.type} to analyze`);
    let k = 0;
    return reply.faces.map((list) =>
      list.map((f) => {
        const features = reply.features.length > 0 ? reply.features.subarray(k * FEATURES, ++k * FEATURES) : undefined;
        return { ...f, features };
      }),
    );
  }

  /** 2048 features per 48x48 face, on one worker. */
  async features(faces: readonly Uint8Array[]): Promise<Float32Array> {
    const size = INPUT_SIZE * INPUT_SIZE;
    const buffer = new ArrayBuffer(faces.length * size);
    const bytes = new Uint8Array(buffer);
    faces.forEach((f, i) => {
      if (f.byteLength !== size) throw new Error(`face ${i} is ${f.byteLength} bytes, expected ${size} (48x48 gray)`);
      bytes.set(f, i * size);
    });
    const reply = await this.request((id) => ({ type: 'features', id, buffer, count: faces.length }), [buffer]);
    if (reply.type !== 'features') throw new InferenceWorkerError(`${this.label} answered ${reply.type} to features`);
    return reply.features;
  }

  /** Each face's aligned views (alignFaceViews, 150x150 RGB) → one L2-normalised embedding per face, on one worker
   * started with `embedderPath` (live recognition's embedding worker). */
  async embed(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]> {
    const plane = ALIGNED_SIZE * ALIGNED_SIZE * 3;
    const total = faces.reduce((n, v) => n + v.length, 0);
    const buffer = new ArrayBuffer(total * plane);
    const bytes = new Uint8Array(buffer);
    let at = 0;
    faces.forEach((views, i) => {
      if (views.length === 0) throw new Error(`face ${i} has no views`);
      for (const v of views) {
        if (v.byteLength !== plane) throw new Error(`face ${i} has a view of ${v.byteLength} bytes, expected ${ALIGNED_SIZE}x${ALIGNED_SIZE}x3 = ${plane}`);
        bytes.set(v, plane * at++);
      }
    });
    const reply = await this.request((id) => ({ type: 'embed', id, buffer, views: faces.map((v) => v.length) }), [buffer]);
    if (reply.type !== 'embeddings') throw new InferenceWorkerError(`${this.label} answered ${reply.type} to embed`);
    return faces.map((_, i) => reply.embeddings.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM));
  }

  /** Pending requests per worker (for tests and metrics). */
  load(): number[] {
    return this.slots.map((s) => s.pending.size);
  }

  /**
   * Graceful: each worker answers what it was already sent, releases its sessions and exits; new requests are refused.
   * A worker that does not exit within `graceMs` is terminated.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = null;
        if (!w) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        w.postMessage({ type: 'close' } satisfies ToInferenceWorker);
        const timer = setTimeout(() => void w.terminate(), graceMs);
        await exited;
        clearTimeout(timer);
        this.failAll(s, new InferenceWorkerError('inference pool closed'));
      }),
    );
  }

  private request(make: (id: number) => ToInferenceWorker, transfer: ArrayBuffer[]): Promise<FromInferenceWorker> {
    if (this.closed) return Promise.reject(new InferenceWorkerError('inference pool closed'));
    const live = this.slots.filter((s) => s.worker);
    if (live.length === 0) return Promise.reject(new InferenceWorkerError(`no ${this.label} is running (all crashed; restarting)`));
    // least pending requests first; ties go to the lowest index, so a lone request always finds an idle worker
    const slot = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker!.postMessage(make(id), transfer);
    });
  }

  private spawn(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.entry.file, { eval: this.entry.eval, workerData: this.options.init });
      let ready = false;
      worker.on('message', (m: FromInferenceWorker) => {
        if (m.type === 'ready') {
          ready = true;
          if (this.closed) return void worker.terminate();
          slot.worker = worker;
          resolve();
        } else if (m.type === 'fatal') {
          const E = m.name === 'ExecutionProviderError' ? ExecutionProviderError : Error;
          reject(new E(m.message)); // the worker releases what it loaded and exits by itself
        } else {
          const p = slot.pending.get(m.id);
          if (!p) return;
          slot.pending.delete(m.id);
          slot.failures = 0;
          if (m.type === 'error') p.reject(new InferenceWorkerError(m.message));
          else p.resolve(m);
        }
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.logger.error(`${this.label} ${slot.index} failed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        if (!ready) return reject(new InferenceWorkerError(`${this.label} ${slot.index} exited (${code}) before it was ready`));
        if (slot.worker !== worker) return;
        slot.worker = null;
        this.failAll(slot, new InferenceWorkerError(`${this.label} ${slot.index} exited (${code})`));
        if (this.closed) return;
        const delay = Math.min(30_000, (this.options.restartDelayMs ?? 500) * 2 ** slot.failures++);
        this.logger.warn(`${this.label} ${slot.index} exited (${code}); starting it again in ${delay} ms`);
        setTimeout(() => {
          if (this.closed) return;
          this.spawn(slot).catch((e: Error) => this.logger.error(`${this.label} ${slot.index} could not start again: ${e.message}`));
        }, delay).unref();
      });
    });
  }

  private failAll(slot: Slot, err: Error): void {
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
  }
}

/** Frames back to back in one buffer (transferred to the worker, so the main thread copies each frame once). */
function pack(images: readonly BgrImage[]): { buffer: ArrayBuffer; frames: PackedFrame[] } {
  const total = images.reduce((n, im) => n + im.data.byteLength, 0);
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  const frames: PackedFrame[] = [];
  let offset = 0;
  for (const im of images) {
    if (im.data.byteLength !== im.width * im.height * 3) throw new Error(`frame is ${im.data.byteLength} bytes, expected ${im.width}x${im.height}x3`);
    bytes.set(im.data, offset);
    frames.push({ offset, length: im.data.byteLength, width: im.width, height: im.height });
    offset += im.data.byteLength;
  }
  return { buffer, frames };
}

/** Contiguous chunks whose sizes differ by at most one: [a,b,c,d,e] in 2 -> [a,b,c], [d,e]. */
export function splitEven<T>(items: readonly T[], parts: number): T[][] {
  const k = Math.max(1, Math.min(parts, items.length));
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const n = Math.floor(items.length / k) + (i < items.length % k ? 1 : 0);
    out.push(items.slice(start, start + n));
    start += n;
  }
  return out;
}

/** YuNet on the pool: a batch is split evenly across the workers and detected in parallel. */
export class PooledFaceDetector {
  /** The detector's options travel to the workers in InferenceWorkerInit. */
  constructor(private readonly pool: InferencePool) {}

  get parallelism(): number {
    return this.pool.size;
  }

  async detect(images: readonly BgrImage[]): Promise<Detection[][]> {
    if (images.length === 0) return [];
    const parts = await Promise.all(splitEven(images, this.pool.size).map((chunk) => this.pool.detect(chunk)));
    return parts.flat();
  }

  /** Detection, crops and trunk features in the workers: each worker does all three for its share of the batch. */
  async analyze(images: readonly BgrImage[], request: AnalyzeRequest): Promise<AnalyzedFace[][]> {
    if (images.length === 0) return [];
    const chunks = splitEven(images, this.pool.size);
    let start = 0;
    const parts = await Promise.all(
      chunks.map((chunk) => {
        // the identity boxes are per frame: each worker gets those of its own frames
        const own = request.identity && {
          ...request.identity,
          frames: request.identity.frames.slice(start, start + chunk.length),
          enrol: request.identity.enrol?.slice(start, start + chunk.length),
        };
        start += chunk.length;
        const asks = own && (own.frames.some((f) => f.length > 0) || own.enrol?.some(Boolean));
        return this.pool.analyze(chunk, asks ? { ...request, identity: own } : { ...request, identity: undefined });
      }),
    );
    return parts.flat();
  }

  /** The pool is closed by its owner (InferenceModule). */
  async release(): Promise<void> {}
}

/** The trunk on the pool: the faces of a batch are split evenly across the workers. */
export class PooledFeatureExtractor implements FeatureExtractor {
  constructor(private readonly pool: InferencePool) {}

  async features(faces: readonly Uint8Array[]): Promise<Float32Array> {
    if (faces.length === 0) return new Float32Array(0);
    const parts = await Promise.all(splitEven(faces, this.pool.size).map((chunk) => this.pool.features(chunk)));
    if (parts.length === 1) return parts[0];
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  async release(): Promise<void> {}
}

/**
 * Live recognition's embedder on its own worker thread (a pool of one started with only `embedderPath`): the ResNet's
 * ~6 crops per face run beside the detection workers instead of inside a batch, so no batch waits for them; the OS
 * shares the cores between the threads (docs/IDENTITY.md "Live recognition").
 */
export class PooledViewEmbedder implements ViewEmbedder {
  constructor(private readonly pool: InferencePool) {}

  embedFaces(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]> {
    return faces.length === 0 ? Promise.resolve([]) : this.pool.embed(faces);
  }
}
