import type { FinetuneMetrics } from '../../contracts/personalization';
import { argmaxRows, HeadForward, headTensors } from '../../inference/heads/head-forward';
import { CLASSES, FEATURES, HIDDEN, HeadWeights } from '../../inference/heads/head-shape';
import { HeadTrainStep, StepHyper } from '../../inference/heads/head-train-step';
import type { FeatureExtractor } from '../../inference/inference.types';
import { AugmentOptions, DEFAULT_AUGMENT, augmentFace } from './augment';
import { FinetuneError } from './finetune.errors';
import { Rng } from './rng';
import { BlendChoice, chooseBlendWeight, probabilities } from './blend';

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
  /** folds of the cross-validation that chooses the blend weight (blend.ts); 0 = no blend (w = 1, the personal head alone) */
  cvFolds: number;
  /** epochs of each fold's fine-tune (fewer than `epochs` makes the check cheaper; 0 = as many as `epochs`) */
  cvEpochs: number;
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
  // Off by default: measured on JAFFE/Taiwanese (docs/PERSONALIZATION.md) it chose w = 1 for every JAFFE subject, lowered
  // the Taiwanese mean by 0.3 points and left the two subjects one face below general where they were, for ~6x the
  // fine-tune time. Kept as an option (cvFolds > 0) for the next attempt at "never worse than general" (issue 17).
  cvFolds: 0,
  cvEpochs: 0,
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

    const fit: FitInput = { userFeatures, rowLabels, labelWeight, replay, replayRows, general, o, cancelled };
    let best = { loss: Infinity, epoch: 0, weights: null as HeadWeights | null };
    const epochSeconds: number[] = [];
    const order = Array.from({ length: faces.length }, (_, i) => i);
    const epochsRun = await this.fit(fit, order, o.epochs, rng, async (epoch, loss, acc, seconds) => {
      let stop = false;
      if (held.length) {
        const logits = await this.deps.forward.run(headTensors(this.deps.step.weights()), heldFeatures, held.length);
        const heldLoss = crossEntropy(logits, heldLabels);
        if (heldLoss < best.loss - 1e-4) best = { loss: heldLoss, epoch, weights: this.deps.step.snapshot() };
        else if (epoch - best.epoch >= o.patience) stop = true;
      }
      epochSeconds.push(seconds);
      const perEpoch = epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length;
      onProgress({ epoch, of: o.epochs, loss, accuracy: acc, etaSeconds: stop ? 0 : Math.round(perEpoch * (o.epochs - epoch) * 10) / 10 });
      return stop;
    });

    const weights = best.weights ?? this.deps.step.snapshot();
    // the blend weight: the same fine-tune on part of the samples, scored on the rest (after the main run, with its
    // own random streams, so the personal head itself is what it was before the blend existed)
    const blend = o.cvFolds > 0 ? await this.crossValidate(fit, train.map((i) => samples[i].label), variants) : null;
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
        blend: blend?.weight ?? 1,
        ...(blend ? { blendCheck: { faces: blend.faces, general: blend.general, personal: blend.personal, blended: blend.blended, folds: blend.folds } } : {}),
      },
    };
  }

  /**
   * Cross-validation of the blend weight over the user's training samples: `cvFolds` folds (samples dealt to folds
   * label by label, so a fold holds out different expressions); each fold fine-tunes from the general head on the
   * rows of the other samples and scores the held-out samples' own faces (variant 0) with the general head and that
   * fold's head. A sample that is the only one of its label keeps its augmented copies in the fold's training rows
   * (one photo per expression: leave-one-out over augmented copies; otherwise the fold would never have seen the label).
   * Fewer than 2 samples: null (no check possible; the caller keeps w = 1).
   */
  private async crossValidate(fit: FitInput, sampleLabels: number[], variants: number): Promise<(BlendChoice & { folds: number }) | null> {
    const n = sampleLabels.length;
    const k = Math.min(fit.o.cvFolds, n);
    if (k < 2) return null;
    const rng = new Rng(fit.o.seed + 7919);
    const foldOf = new Array<number>(n);
    let next = 0;
    const byLabel = new Map<number, number[]>();
    sampleLabels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
    for (const idx of [...byLabel.keys()].sort((a, b) => a - b).map((l) => rng.shuffle(byLabel.get(l)!))) {
      for (const i of idx) foldOf[i] = next++ % k;
    }
    const perLabel = new Array<number>(CLASSES).fill(0);
    for (const l of sampleLabels) perLabel[l]++;
    const generalLogits = await this.deps.forward.run(headTensors(fit.general), sampleRows(fit.userFeatures, n, variants), n);
    const general = probabilities(generalLogits, n);
    const personal = new Float32Array(n * CLASSES);
    const epochs = fit.o.cvEpochs > 0 ? fit.o.cvEpochs : fit.o.epochs;
    for (let f = 0; f < k; f++) {
      const out = [...Array(n).keys()].filter((i) => foldOf[i] === f);
      const order: number[] = [];
      for (let i = 0; i < n; i++) {
        const heldOut = foldOf[i] === f;
        const alone = heldOut && perLabel[sampleLabels[i]] === 1;
        if (heldOut && !alone) continue;
        for (let v = heldOut ? 1 : 0; v < variants; v++) order.push(i * variants + v);
      }
      await this.fit(fit, order, epochs, new Rng(fit.o.seed + 1000 * (f + 1)), async () => false);
      const features = new Float32Array(out.length * FEATURES);
      out.forEach((i, r) => features.set(fit.userFeatures.subarray(i * variants * FEATURES, (i * variants + 1) * FEATURES), r * FEATURES));
      const p = probabilities(await this.deps.forward.run(headTensors(this.deps.step.weights()), features, out.length), out.length);
      out.forEach((i, r) => personal.set(p.subarray(r * CLASSES, (r + 1) * CLASSES), i * CLASSES));
    }
    return { ...chooseBlendWeight(general, personal, sampleLabels), folds: k };
  }

  /**
   * Fine-tunes from the general head over the user rows `order` (indices into userFeatures) for up to `epochs`:
   * each step userPerBatch user rows + replayPerBatch replay rows, a fresh dropout mask. `afterEpoch` returns true to
   * stop. Returns the epochs run; the weights are the step's (this.deps.step.weights()).
   */
  private async fit(
    x: FitInput,
    order: number[],
    epochs: number,
    rng: Rng,
    afterEpoch: (epoch: number, loss: number, accuracy: number, seconds: number) => Promise<boolean>,
  ): Promise<number> {
    const { o, replay, replayRows } = x;
    this.deps.step.reset(x.general);
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
    let epochsRun = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      rng.shuffle(order);
      let lossSum = 0;
      let rowsSum = 0;
      let correctSum = 0;
      for (let start = 0; start < order.length; start += o.userPerBatch) {
        x.cancelled();
        let n = 0;
        for (let k = start; k < Math.min(order.length, start + o.userPerBatch); k++, n++) {
          const row = order[k];
          batch.features.set(x.userFeatures.subarray(row * FEATURES, (row + 1) * FEATURES), n * FEATURES);
          batch.labels[n] = x.rowLabels[row];
          batch.weights[n] = x.labelWeight[x.rowLabels[row]];
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
      const stop = await afterEpoch(epoch, lossSum / Math.max(1, rowsSum), correctSum / Math.max(1, rowsSum), (performance.now() - t0) / 1000);
      if (stop) break;
    }
    return epochsRun;
  }
}

interface FitInput {
  userFeatures: Float32Array;
  rowLabels: number[];
  labelWeight: number[];
  replay: ReplaySet;
  replayRows: number[][];
  general: HeadWeights;
  o: FinetuneOptions;
  cancelled: () => void;
}

/** Features of variant 0 (the face itself) of each of n samples laid out as `variants` rows per sample. */
function sampleRows(userFeatures: Float32Array, n: number, variants: number): Float32Array {
  const out = new Float32Array(n * FEATURES);
  for (let i = 0; i < n; i++) out.set(userFeatures.subarray(i * variants * FEATURES, (i * variants + 1) * FEATURES), i * FEATURES);
  return out;
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
