import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinetuneProgress, FinetuneSample, FinetuneTrainer, ReplaySet, splitHoldout } from '../../src/personalization/finetune/finetune.trainer';
import { HeadTrainStep } from '../../src/inference/heads/head-train-step';
import { CLASSES, FEATURES, HEAD_PARAMS, HeadWeights } from '../../src/inference/heads/head-shape';
import { Rng } from '../../src/personalization/finetune/rng';
import type { FeatureExtractor } from '../../src/inference/inference.types';
import { HeadForward } from '../../src/inference/heads/head-forward';
import { cpuFactory } from '../support/ort';
import { MODELS } from '../support/paths';

const GRAPH = join(MODELS, 'general', 'head-train-step.onnx');
const FORWARD = join(MODELS, 'general', 'head-forward.onnx');
if (!existsSync(GRAPH)) console.warn('personalization-trainer: skipped, run /usr/bin/python3 scripts/build_head_train_graph.py');

/** A face's label is written in its brightness (flat image 20 + 30*label): survives flips, shifts and rotations. */
/** brightness/contrast jitter off: the stand-in trunk reads the label from the brightness */
const GEOMETRY_ONLY = { flip: true, rotate: 10, scale: 0.08, shift: 3, brightness: 0, contrast: 0 };
const face = (label: number) => new Uint8Array(48 * 48).fill(20 + 30 * label);

/** Stand-in trunk: label from brightness -> that label's prototype + noise (separable, not trivially). */
class PrototypeTrunk implements FeatureExtractor {
  calls = 0;
  constructor(
    private readonly protos: Float32Array[],
    private readonly rng: Rng,
  ) {}
  async features(faces: readonly Uint8Array[]): Promise<Float32Array> {
    this.calls++;
    const out = new Float32Array(faces.length * FEATURES);
    faces.forEach((f, i) => {
      const label = Math.round((f[0] - 20) / 30);
      for (let k = 0; k < FEATURES; k++) out[i * FEATURES + k] = Math.max(0, this.protos[label][k] + this.rng.uniform(-0.6, 0.6));
    });
    return out;
  }
  async release(): Promise<void> {}
}

function prototypes(rng: Rng): Float32Array[] {
  return Array.from({ length: CLASSES }, () => new Float32Array(FEATURES).map(() => (rng.next() < 0.1 ? rng.uniform(0, 1.5) : 0)));
}

function randomHead(rng: Rng): HeadWeights {
  const w = {} as HeadWeights;
  for (const p of HEAD_PARAMS) {
    const fanIn = p.name.startsWith('fc1') ? FEATURES : 1024;
    w[p.name] = new Float32Array(p.dims.reduce((a, b) => a * b, 1)).map(() => rng.uniform(-1, 1) / Math.sqrt(fanIn));
  }
  return w;
}

describe.skipIf(!existsSync(GRAPH))('FinetuneTrainer on synthetic separable features', () => {
  let step: HeadTrainStep;
  let forward: HeadForward;
  beforeAll(async () => {
    step = await HeadTrainStep.create(cpuFactory(2), GRAPH);
    forward = await HeadForward.create(cpuFactory(2), FORWARD);
  });
  afterAll(async () => {
    await step.release();
    await forward.release();
  });

  it('loss goes down, accuracy goes up, and the held-out faces end up better classified than by the start head', async () => {
    const rng = new Rng(11);
    const userProtos = prototypes(rng);
    const replayProtos = prototypes(rng);
    const replayTrunk = new PrototypeTrunk(replayProtos, rng);
    const replayLabels = Array.from({ length: 140 }, (_, i) => i % CLASSES);
    const replay: ReplaySet = { features: await replayTrunk.features(replayLabels.map(face)), labels: replayLabels, count: 140 };
    const samples: FinetuneSample[] = [];
    for (let l = 0; l < CLASSES; l++) for (let k = 0; k < 5; k++) samples.push({ label: l, face: face(l) });

    const trunk = new PrototypeTrunk(userProtos, rng);
    const progress: FinetuneProgress[] = [];
    const result = await new FinetuneTrainer({ trunk, step, forward }).train(
      samples,
      randomHead(rng),
      replay,
      { epochs: 8, lr: 1e-3, patience: 8, targetUserRows: 128, augment: GEOMETRY_ONLY },
      (p) => progress.push(p),
    );

    expect(trunk.calls).toBe(1); // all user crops through the trunk once, up front
    expect(progress.length).toBe(8);
    expect(progress.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.every((p) => p.of === 8 && p.etaSeconds >= 0)).toBe(true);
    expect(progress.at(-1)!.loss).toBeLessThan(progress[0].loss * 0.7);
    expect(progress.at(-1)!.accuracy).toBeGreaterThan(progress[0].accuracy);
    expect(progress.at(-1)!.accuracy).toBeGreaterThan(0.9);
    const m = result.metrics;
    expect(m.heldOut).toBe(7); // 5 per label -> 1 per label held out
    expect(m.trainSamples).toBe(28);
    expect(m.replaySamples).toBe(140);
    expect(m.personalAccuracy).toBe(1);
    expect(m.generalAccuracy!).toBeLessThan(0.5);
    expect(m.epochs).toBeGreaterThan(0);
  });

  it('with one face per label there is no held-out part: full epoch budget, accuracies reported as null', async () => {
    const rng = new Rng(5);
    const samples: FinetuneSample[] = Array.from({ length: CLASSES }, (_, l) => ({ label: l, face: face(l) }));
    const replay: ReplaySet = { features: new Float32Array(0), labels: [], count: 0 };
    const trunk = new PrototypeTrunk(prototypes(rng), rng);
    const progress: FinetuneProgress[] = [];
    const result = await new FinetuneTrainer({ trunk, step, forward }).train(samples, randomHead(rng), replay, { epochs: 3, augment: GEOMETRY_ONLY }, (p) => progress.push(p));
    expect(progress.length).toBe(3);
    expect(result.metrics).toMatchObject({ heldOut: 0, trainSamples: 7, replaySamples: 0, epochs: 3, generalAccuracy: null, personalAccuracy: null });
  });

  it('chooses the blend weight by cross-validation: the result carries w, and the personal head itself is unchanged', async () => {
    const samples: FinetuneSample[] = Array.from({ length: 2 * CLASSES }, (_, i) => ({ label: i % CLASSES, face: face(i % CLASSES) }));
    const replay: ReplaySet = { features: new Float32Array(0), labels: [], count: 0 };
    const run = (cvFolds: number) => {
      const rng = new Rng(21); // same trunk noise and general head for both runs
      const trunk = new PrototypeTrunk(prototypes(rng), rng);
      return new FinetuneTrainer({ trunk, step, forward }).train(samples, randomHead(rng), replay, { epochs: 3, cvFolds, cvEpochs: 2, targetUserRows: 64, augment: GEOMETRY_ONLY });
    };
    const plain = await run(0);
    const blended = await run(5);
    expect(plain.metrics.blend).toBe(1);
    expect(plain.metrics.blendCheck).toBeUndefined();
    const c = blended.metrics.blendCheck!;
    expect(c).toMatchObject({ faces: 14, folds: 5 });
    // the random general head is about chance; the folds' heads learn the prototypes
    expect(c.personal).toBeGreaterThan(c.general);
    expect(c.blended).toBeGreaterThanOrEqual(Math.max(c.general, c.personal));
    expect(blended.metrics.blend).toBeGreaterThan(0);
    expect(Math.round(blended.metrics.blend! * 10)).toBe(blended.metrics.blend! * 10);
    for (const p of HEAD_PARAMS) expect(blended.weights[p.name]).toEqual(plain.weights[p.name]);
  }, 240_000);

  it('keeps the general model (w = 0) when it is already right on every held-out face', async () => {
    const samples: FinetuneSample[] = Array.from({ length: 2 * CLASSES }, (_, i) => ({ label: i % CLASSES, face: face(i % CLASSES) }));
    const replay: ReplaySet = { features: new Float32Array(0), labels: [], count: 0 };
    const rng = new Rng(33);
    const protos = prototypes(rng);
    const head = randomHead(rng);
    // a "general" head that already knows this user's prototypes
    const good = await new FinetuneTrainer({ trunk: new PrototypeTrunk(protos, new Rng(1)), step, forward }).train(samples, head, replay, { epochs: 6, cvFolds: 0, targetUserRows: 64, augment: GEOMETRY_ONLY });
    const r = await new FinetuneTrainer({ trunk: new PrototypeTrunk(protos, new Rng(2)), step, forward }).train(samples, good.weights, replay, { epochs: 2, cvFolds: 5, cvEpochs: 2, targetUserRows: 64, augment: GEOMETRY_ONLY });
    expect(r.metrics.blendCheck).toMatchObject({ faces: 14, general: 14, blended: 14 });
    expect(r.metrics.blend).toBe(0);
  }, 240_000);

  it('stops at the next step when cancelled', async () => {
    const rng = new Rng(9);
    const samples: FinetuneSample[] = Array.from({ length: CLASSES }, (_, l) => ({ label: l, face: face(l) }));
    const ac = new AbortController();
    const replay: ReplaySet = { features: new Float32Array(0), labels: [], count: 0 };
    const run = new FinetuneTrainer({ trunk: new PrototypeTrunk(prototypes(rng), rng), step, forward }).train(
      samples,
      randomHead(rng),
      replay,
      { epochs: 50, augment: GEOMETRY_ONLY },
      (p) => p.epoch === 2 && ac.abort(),
      ac.signal,
    );
    await expect(run).rejects.toMatchObject({ code: 'conflict', reason: 'cancelled' });
  });
});

describe('splitHoldout', () => {
  it('holds out ~20% of each label only when every label has enough faces', () => {
    const s = (counts: number[]) => counts.flatMap((n, l) => Array.from({ length: n }, () => ({ label: l, face: new Uint8Array(0) })));
    const o = { holdoutMinPerLabel: 3, holdoutFraction: 0.2 };
    const a = splitHoldout(s([20, 20, 20, 20, 20, 20, 20]), o, new Rng(1));
    expect(a.held.length).toBe(28);
    expect(a.train.length).toBe(112);
    expect(new Set([...a.held, ...a.train]).size).toBe(140);
    const b = splitHoldout(s([5, 2, 5]), o, new Rng(1));
    expect(b.held.length).toBe(0);
    expect(b.train.length).toBe(12);
  });
});
