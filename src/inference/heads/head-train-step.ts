import * as ort from 'onnxruntime-node';
import type { OrtSessionFactory, SessionOptions } from '../ort.sessions';
import { CLASSES, FEATURES, HEAD_PARAMS, HIDDEN, HeadParamName, HeadWeights, paramSize } from './head-shape';

/** One batch for a training step. `mask` is the dropout mask (0 or 1/(1-p)), drawn by the caller. */
export interface TrainBatch {
  size: number;
  features: Float32Array; // size x 2048
  labels: ArrayLike<number>; // size, 0..6
  weights: Float32Array; // size
  mask: Float32Array; // size x 1024
}

export interface StepHyper {
  lr: number;
  weightDecay: number;
  labelSmoothing: number;
}

export interface StepResult {
  loss: number;
  correct: number;
}

type StateSet = Record<string, ort.Tensor>;

const scalar = (v: number) => new ort.Tensor('float32', new Float32Array([v]), []);

/**
 * The ONNX training step (models/general/head-train-step.onnx, built by scripts/build_head_train_graph.py) with its
 * state kept as two sets of ORT tensors (weights + Adam moments). Each step reads set A and writes set B through
 * pre-allocated outputs, then the roles swap: no per-step allocation or copy of the 2.1M-parameter state.
 * Not re-entrant: one step at a time.
 */
export class HeadTrainStep {
  private readonly sets: [StateSet, StateSet];
  private readonly outs: [StateSet, StateSet];
  private cur = 0;
  private t = 0;
  private readonly batchCache = new Map<number, { features: ort.Tensor; targets: ort.Tensor; weights: ort.Tensor; mask: ort.Tensor }>();

  private constructor(private readonly session: ort.InferenceSession) {
    const make = (): StateSet => {
      const s: StateSet = {};
      for (const p of HEAD_PARAMS) {
        for (const prefix of ['', 'm.', 'v.']) {
          s[prefix + p.name] = new ort.Tensor('float32', new Float32Array(paramSize(p.dims)), [...p.dims]);
        }
      }
      return s;
    };
    this.sets = [make(), make()];
    // outputs of a step that reads set i are set 1-i's tensors under their `new.` names
    const outsFor = (target: StateSet): StateSet => {
      const o: StateSet = {};
      for (const [k, v] of Object.entries(target)) o[`new.${k}`] = v;
      return o;
    };
    this.outs = [outsFor(this.sets[1]), outsFor(this.sets[0])];
  }

  /** `factory` decides the execution provider (and, unless `options` say otherwise, threads and spinning). */
  static async create(factory: OrtSessionFactory, modelPath: string, options: SessionOptions = {}): Promise<HeadTrainStep> {
    return new HeadTrainStep(await factory.createRaw(modelPath, options));
  }

  /** Start from these weights with zeroed Adam moments and step counter. */
  reset(weights: HeadWeights): void {
    const s = this.sets[0];
    for (const p of HEAD_PARAMS) {
      (s[p.name].data as Float32Array).set(weights[p.name]);
      (s[`m.${p.name}`].data as Float32Array).fill(0);
      (s[`v.${p.name}`].data as Float32Array).fill(0);
    }
    this.cur = 0;
    this.t = 0;
  }

  get steps(): number {
    return this.t;
  }

  /** Views of the current weights (valid until the next step). */
  weights(): HeadWeights {
    const out = {} as HeadWeights;
    for (const p of HEAD_PARAMS) out[p.name] = this.sets[this.cur][p.name].data as Float32Array;
    return out;
  }

  /** Views of the current Adam moments ('m' first, 'v' second), for inspection and tests. */
  moments(which: 'm' | 'v'): HeadWeights {
    const out = {} as HeadWeights;
    for (const p of HEAD_PARAMS) out[p.name] = this.sets[this.cur][`${which}.${p.name}`].data as Float32Array;
    return out;
  }

  /** A copy of the current weights. */
  snapshot(): HeadWeights {
    const out = {} as HeadWeights;
    for (const p of HEAD_PARAMS) out[p.name] = (this.sets[this.cur][p.name].data as Float32Array).slice();
    return out;
  }

  /** Overwrite the current weights (keeps the moments), e.g. to restore the best snapshot. */
  load(weights: HeadWeights): void {
    for (const p of HEAD_PARAMS) (this.sets[this.cur][p.name].data as Float32Array).set(weights[p.name as HeadParamName]);
  }

  async step(batch: TrainBatch, hyper: StepHyper): Promise<StepResult> {
    const b = this.batchTensors(batch.size);
    (b.features.data as Float32Array).set(batch.features.subarray(0, batch.size * FEATURES));
    const targets = b.targets.data as Float32Array;
    targets.fill(0);
    for (let i = 0; i < batch.size; i++) targets[i * CLASSES + batch.labels[i]] = 1;
    (b.weights.data as Float32Array).set(batch.weights.subarray(0, batch.size));
    (b.mask.data as Float32Array).set(batch.mask.subarray(0, batch.size * HIDDEN));
    this.t += 1;
    const feeds: Record<string, ort.Tensor> = {
      ...this.sets[this.cur],
      step: scalar(this.t),
      lr: scalar(hyper.lr),
      weight_decay: scalar(hyper.weightDecay),
      label_smoothing: scalar(hyper.labelSmoothing),
      features: b.features,
      targets: b.targets,
      sample_weights: b.weights,
      dropout_mask: b.mask,
    };
    const fetches: Record<string, ort.Tensor | null> = { ...this.outs[this.cur], loss: null, correct: null };
    const r = await this.session.run(feeds, fetches);
    this.cur = 1 - this.cur;
    return { loss: (r.loss.data as Float32Array)[0], correct: (r.correct.data as Float32Array)[0] };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private batchTensors(size: number) {
    let hit = this.batchCache.get(size);
    if (!hit) {
      hit = {
        features: new ort.Tensor('float32', new Float32Array(size * FEATURES), [size, FEATURES]),
        targets: new ort.Tensor('float32', new Float32Array(size * CLASSES), [size, CLASSES]),
        weights: new ort.Tensor('float32', new Float32Array(size), [size]),
        mask: new ort.Tensor('float32', new Float32Array(size * HIDDEN), [size, HIDDEN]),
      };
      this.batchCache.set(size, hit);
    }
    return hit;
  }
}
