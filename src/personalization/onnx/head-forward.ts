import * as ort from 'onnxruntime-node';
import { CLASSES, FEATURES, HEAD_PARAMS, HeadWeights } from '../finetune/head-weights';
import { buildHeadForwardModel } from './onnx-proto';

/** Weights wrapped as ORT tensors once (the tensors view the same memory: no copy per run). */
export type HeadTensors = Record<string, ort.Tensor>;

export function headTensors(w: HeadWeights): HeadTensors {
  const t: HeadTensors = {};
  for (const p of HEAD_PARAMS) t[p.name] = new ort.Tensor('float32', w[p.name], [...p.dims]);
  return t;
}

/**
 * The head's forward pass with its weights fed as inputs: one session (built in memory, see onnx-proto.ts) serves
 * the general head, every user's head and the trainer's held-out evaluation.
 */
export class HeadForward {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(options: { threads?: number } = {}): Promise<HeadForward> {
    const session = await ort.InferenceSession.create(buildHeadForwardModel(), {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new HeadForward(session);
  }

  /** features: n x 2048 -> logits n x 7. */
  async run(weights: HeadTensors, features: Float32Array, n: number): Promise<Float32Array> {
    if (features.length < n * FEATURES) throw new Error(`head: ${n} rows need ${n * FEATURES} floats, got ${features.length}`);
    if (n === 0) return new Float32Array(0);
    const x = new ort.Tensor('float32', features.subarray(0, n * FEATURES), [n, FEATURES]);
    const r = await this.session.run({ ...weights, features: x });
    const logits = r.logits.data as Float32Array;
    return logits.length === n * CLASSES ? logits : logits.slice(0, n * CLASSES);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** argmax per row of n x 7 logits. */
export function argmaxRows(logits: Float32Array, n: number, cols = CLASSES): Int32Array {
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c] > logits[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}
