import type { FinetuneMetrics } from '../../contracts/personalization';
import { argmaxRows, HeadForward, headTensors } from '../../inference/heads/head-forward';
import { CLASSES, FEATURES, HIDDEN, HeadWeights } from '../../inference/heads/head-shape';
import { HeadTrainStep, StepHyper } from '../../inference/heads/head-train-step';
import type { FeatureExtractor } from '../../inference/inference.types';
import { AugmentOptions, DEFAULT_AUGMENT, augmentFace } from './augment';
import { FinetuneError } from './finetune.errors';
import { Rng } from './rng';

export interface FinetuneSample {
  /** 0..6, FER-2013 order */
  label: number;
  /** 48x48 uint8 grayscale face, the classifier input contract (src/inference/preprocess.ts) */
  face: Uint8Array;
}

export interface ReplaySet {
  /** count x 2048 trunk features of general FER-2013 faces */
  features: Float32Array;
  labels: ArrayLike<number>;
  count: number;
}

export interface FinetuneOptions {
  /** most epochs; an epoch = one pass over the user's augmented training rows */
  epochs: number;
  /** rows per step: userPerBatch of the user's + replayPerBatch of the replay set */
  userPerBatch: number;
  replayPerBatch: number;
  /** cap on replay rows used (class-balanced subset of the replay set) */
  replayCap: number;
  /** weight of a replay row's loss relative to a user row's */
  replayWeight: number;
  /** augmented variants are drawn so the user contributes about this many rows per epoch (>= minVariants each) */
  targetUserRows: number;
  minVariants: number;
  maxVariants: number;
  lr: number;
  weightDecay: number;
  labelSmoothing: number;
  dropout: number;
  /** hold out part of the user's samples for early stopping when every trained label has at least this many */
  holdoutMinPerLabel: number;
  holdoutFraction: number;
  /** epochs without held-out improvement before stopping */
  patience: number;
  seed: number;
  augment: AugmentOptions;
}

export const DEFAULT_FINETUNE: FinetuneOptions = {
  epochs: 15,
  userPerBatch: 64,
  replayPerBatch: 64,
  replayCap: 350,
  replayWeight: 1,
  targetUserRows: 256,
  minVariants: 2,
  maxVariants: 32,
  lr: 2e-3,
  weightDecay: 1e-4,
  labelSmoothing: 0.1,
  dropout: 0.5,
  holdoutMinPerLabel: 3,
  holdoutFraction: 0.2,
  patience: 3,
  seed: 1,
  augment: DEFAULT_AUGMENT,
};

export interface FinetuneProgress {
  epoch: number;
  of: number;
  loss: number;
  accuracy: number;
  etaSeconds: number;
}

export interface FinetuneResult {
  weights: HeadWeights;
  metrics: FinetuneMetrics;
}

export interface TrainerDeps {
  trunk: FeatureExtractor;
  step: HeadTrainStep;
  forward: HeadForward;
}

/** Split per label: hold out round(fraction * n) (>= 1) of each label when every label present has >= minPerLabel. */
export function splitHoldout(samples: FinetuneSample[], o: Pick<FinetuneOptions, 'holdoutMinPerLabel' | 'holdoutFraction'>, rng: Rng) {
  const byLabel = new Map<number, number[]>();
  samples.forEach((s, i) => byLabel.set(s.label, [...(byLabel.get(s.label) ?? []), i]));
  const canHold = [...byLabel.values()].every((idx) => idx.length >= o.holdoutMinPerLabel);
  const train: number[] = [];
  const held: number[] = [];
  for (const idx of byLabel.values()) {
    const shuffled = rng.shuffle([...idx]);
    const k = canHold ? Math.max(1, Math.round(shuffled.length * o.holdoutFraction)) : 0;
    held.push(...shuffled.slice(0, k));
    train.push(...shuffled.slice(k));
  }
  return { train: train.sort((a, b) => a - b), held: held.sort((a, b) => a - b) };
}

/** Class-balanced subset of the replay set: up to cap/7 rows per class, in their original order. */
export function leanReplay(replay: ReplaySet, cap: number, rng: Rng): number[][] {
  const perClass = Math.max(1, Math.floor(cap / CLASSES));
  const byClass: number[][] = Array.from({ length: CLASSES }, () => []);
  for (let i = 0; i < replay.count; i++) byClass[replay.labels[i]]?.push(i);
  return byClass.map((rows) => rng.shuffle(rows).slice(0, perClass));
}

/**
 * Fine-tunes a copy of the general head on one user's faces, jointly with the replay set.
 *   1. augmented variants of each training face (variant 0 = the face itself) -> trunk features, once, up front;
 *   2. each step: userPerBatch user rows (shuffled, class-weighted so every label counts the same) +
 *      replayPerBatch class-balanced replay rows, a fresh dropout mask, one ONNX AdamW step;
 *   3. after each epoch, the held-out faces' loss; keep the best weights, stop after `patience` epochs without
 *      improvement. Without a held-out part (fewer than holdoutMinPerLabel faces of some label, e.g. one photo per
 *      expression) it runs the full epoch budget: with a handful of faces the replay mix and augmentation are the guard.
 */
export class FinetuneTrainer {
  constructor(private readonly deps: TrainerDeps) {}

  async train(
    samples: FinetuneSample[],
    general: HeadWeights,
    replay: ReplaySet,
    options: Partial<FinetuneOptions> = {},
    onProgress: (p: FinetuneProgress) => void = () => {},
    signal?: AbortSignal,
  ): Promise<FinetuneResult> {
    const o: FinetuneOptions = { ...DEFAULT_FINETUNE, ...options, augment: { ...DEFAULT_FINETUNE.augment, ...options.augment } };
    const started = performance.now();
    const rng = new Rng(o.seed);
    const cancelled = () => {
      if (signal?.aborted) throw FinetuneError.cancelled();
    };
    if (samples.length === 0) throw new FinetuneError('too_few_samples', 'no samples to train on');

    const { train, held } = splitHoldout(samples, o, rng);
    const variants = Math.min(o.maxVariants, Math.max(o.minVariants, Math.ceil(o.targetUserRows / train.length)));
    const faces: Uint8Array[] = [];
    const rowLabels: number[] = [];
    for (const i of train) {
      faces.push(samples[i].face);
      rowLabels.push(samples[i].label);
      for (let v = 1; v < variants; v++) {
        faces.push(augmentFace(samples[i].face, rng, o.augment));
        rowLabels.push(samples[i].label);
      }
    }
    const heldFaces = held.map((i) => samples[i].face);
    cancelled();
    const userFeatures = await this.deps.trunk.features([...faces, ...heldFaces]);
    const heldFeatures = userFeatures.subarray(faces.length * FEATURES);
    const heldLabels = held.map((i) => samples[i].label);
    cancelled();

    // every label weighs the same in the user's part of the loss, whatever its number of faces
    const perLabel = new Array<number>(CLASSES).fill(0);
    for (const l of rowLabels) perLabel[l]++;
    const present = perLabel.filter((n) => n > 0).length;
    const labelWeight = perLabel.map((n) => (n > 0 ? rowLabels.length / (present * n) : 0));

    const replayRows = o.replayPerBatch > 0 ? leanReplay(replay, o.replayCap, rng).filter((r) => r.length > 0) : [];
    const replayUsed = replayRows.reduce((n, r) => n + r.length, 0);

    const generalTensors = headTensors(general);
    const heldLogitsGeneral = held.length ? await this.deps.forward.run(generalTensors, heldFeatures, held.length) : null;

    this.deps.step.reset(general);
    const hyper: StepHyper = { lr: o.lr, weightDecay: o.weightDecay, labelSmoothing: o.labelSmoothing };
    const B = o.userPerBatch + (replayRows.length ? o.replayPerBatch : 0);
    const batch = {
      size: 0,
      features: new Float32Array(B * FEATURES),
      labels: new Int32Array(B),
      weights: new Float32Array(B),
      mask: new Float32Array(B * HIDDEN),
    };
    const keep = 1 / (1 - o.dropout);
    const order = Array.from({ length: faces.length }, (_, i) => i);

    let best = { loss: Infinity, epoch: 0, weights: null as HeadWeights | null };
    let epochsRun = 0;
    const epochSeconds: number[] = [];
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      rng.shuffle(order);
      let lossSum = 0;
      let rowsSum = 0;
      let correctSum = 0;
      for (let start = 0; start < order.length; start += o.userPerBatch) {
        cancelled();
        let n = 0;
        for (let k = start; k < Math.min(order.length, start + o.userPerBatch); k++, n++) {
          const row = order[k];
          batch.features.set(userFeatures.subarray(row * FEATURES, (row + 1) * FEATURES), n * FEATURES);
          batch.labels[n] = rowLabels[row];
          batch.weights[n] = labelWeight[rowLabels[row]];
        }
        for (let k = 0; replayRows.length && k < o.replayPerBatch; k++, n++) {
          const cls = replayRows[rng.int(replayRows.length)];
          const row = cls[rng.int(cls.length)];
          batch.features.set(replay.features.subarray(row * FEATURES, (row + 1) * FEATURES), n * FEATURES);
          batch.labels[n] = replay.labels[row];
          batch.weights[n] = o.replayWeight;
        }
        batch.size = n;
        for (let i = 0; i < n * HIDDEN; i++) batch.mask[i] = rng.next() < o.dropout ? 0 : keep;
        const r = await this.deps.step.step(batch, hyper);
        lossSum += r.loss * n;
        rowsSum += n;
        correctSum += r.correct;
      }
      epochsRun = epoch;

      let stop = false;
      if (held.length) {
        const logits = await this.deps.forward.run(headTensors(this.deps.step.weights()), heldFeatures, held.length);
        const heldLoss = crossEntropy(logits, heldLabels);
        if (heldLoss < best.loss - 1e-4) best = { loss: heldLoss, epoch, weights: this.deps.step.snapshot() };
        else if (epoch - best.epoch >= o.patience) stop = true;
      }
      epochSeconds.push((performance.now() - t0) / 1000);
      const perEpoch = epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length;
      onProgress({
        epoch,
        of: o.epochs,
        loss: lossSum / Math.max(1, rowsSum),
        accuracy: correctSum / Math.max(1, rowsSum),
        etaSeconds: stop ? 0 : Math.round(perEpoch * (o.epochs - epoch) * 10) / 10,
      });
      if (stop) break;
    }

    const weights = best.weights ?? this.deps.step.snapshot();
    let generalAccuracy: number | null = null;
    let personalAccuracy: number | null = null;
    if (held.length && heldLogitsGeneral) {
      generalAccuracy = accuracy(heldLogitsGeneral, heldLabels);
      personalAccuracy = accuracy(await this.deps.forward.run(headTensors(weights), heldFeatures, held.length), heldLabels);
    }
    return {
      weights,
      metrics: {
        generalAccuracy,
        personalAccuracy,
        heldOut: held.length,
        trainSamples: train.length,
        replaySamples: replayUsed,
        epochs: epochsRun,
        seconds: Math.round((performance.now() - started) / 10) / 100,
      },
    };
  }
}

function crossEntropy(logits: Float32Array, labels: number[]): number {
  let sum = 0;
  for (let r = 0; r < labels.length; r++) {
    const row = logits.subarray(r * CLASSES, (r + 1) * CLASSES);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    sum += m + Math.log(z) - row[labels[r]];
  }
  return sum / Math.max(1, labels.length);
}

function accuracy(logits: Float32Array, labels: number[]): number {
  const pred = argmaxRows(logits, labels.length);
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / Math.max(1, labels.length);
}
