import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadTrainStep, TrainBatch } from '../../src/inference/heads/head-train-step';
import { CLASSES, FEATURES, HEAD_PARAMS, HIDDEN, HeadWeights, headFromBytes, joinHead } from '../../src/inference/heads/head-shape';
import { Rng } from '../../src/personalization/finetune/rng';
import { HeadForward, headTensors } from '../../src/inference/heads/head-forward';
import { cpuFactory } from '../support/ort';
import { MODELS } from '../support/paths';

/**
 * The hand-written backward pass + AdamW of models/general/head-train-step.onnx against PyTorch autograd and
 * torch.optim.AdamW, from the same weights, batches and dropout masks.
 * Needs /usr/bin/python3 with torch (the project's training Python); skipped with a message where it is absent.
 */
const PY = process.env.TORCH_PYTHON ?? '/usr/bin/python3';
const GRAPH = join(MODELS, 'general', 'head-train-step.onnx');
const hasTorch = (() => {
  try {
    execFileSync(PY, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasTorch) console.warn(`personalization-graph: skipped, ${PY} has no torch`);

const TORCH_REFERENCE = String.raw`
import sys, json, numpy as np, torch, torch.nn.functional as F
d = sys.argv[1]; meta = json.load(open(d + '/meta.json'))
B, steps = meta['B'], meta['steps']
flat = np.fromfile(d + '/w0.f32', dtype=np.float32)
shapes = [(1024, 2048), (1024,), (7, 1024), (7,)]
params, o = [], 0
for s in shapes:
    n = int(np.prod(s)); params.append(torch.tensor(flat[o:o+n].reshape(s), requires_grad=True)); o += n
opt = torch.optim.AdamW(params, lr=meta['lr'], weight_decay=meta['wd'], betas=(0.9, 0.999), eps=1e-8)
x = torch.tensor(np.fromfile(d + '/x.f32', dtype=np.float32).reshape(steps, B, 2048))
m = torch.tensor(np.fromfile(d + '/mask.f32', dtype=np.float32).reshape(steps, B, 1024))
w = torch.tensor(np.fromfile(d + '/sw.f32', dtype=np.float32).reshape(steps, B))
y = torch.tensor(np.array(meta['labels'], dtype=np.int64).reshape(steps, B))
out = {'loss': [], 'correct': []}
for s in range(steps):
    W1, b1, W2, b2 = params
    logits = (torch.relu(x[s] @ W1.T + b1) * m[s]) @ W2.T + b2
    ce = F.cross_entropy(logits, y[s], reduction='none', label_smoothing=meta['smoothing'])
    loss = (ce * w[s]).sum() / w[s].sum()
    opt.zero_grad(); loss.backward()
    if s == 0:
        np.concatenate([p.grad.detach().numpy().ravel() for p in params]).astype(np.float32).tofile(d + '/grad0.f32')
    opt.step()
    out['loss'].append(loss.item()); out['correct'].append(int((logits.argmax(1) == y[s]).sum()))
np.concatenate([p.detach().numpy().ravel() for p in params]).astype(np.float32).tofile(d + '/w_final.f32')
json.dump(out, open(d + '/out.json', 'w'))
`;

function randomHead(rng: Rng): HeadWeights {
  const w = {} as HeadWeights;
  for (const p of HEAD_PARAMS) {
    const fanIn = p.dims.length === 2 ? p.dims[1] : p.name.startsWith('fc1') ? FEATURES : HIDDEN;
    const bound = 1 / Math.sqrt(fanIn);
    const a = new Float32Array(p.dims.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
    w[p.name] = a;
  }
  return w;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

describe.skipIf(!hasTorch)('head training graph vs PyTorch', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iexn-graph-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gradients, AdamW updates, loss and correct count match autograd + torch.optim.AdamW over 3 steps', async () => {
    const rng = new Rng(7);
    const B = 24;
    const steps = 3;
    const hyper = { lr: 2e-3, weightDecay: 0.05, labelSmoothing: 0.1 };
    const w0 = randomHead(rng);
    const x = new Float32Array(steps * B * FEATURES).map(() => Math.max(0, rng.uniform(-1, 3)));
    const mask = new Float32Array(steps * B * HIDDEN).map(() => (rng.next() < 0.5 ? 0 : 2));
    const sw = new Float32Array(steps * B).map(() => rng.uniform(0.2, 2));
    const labels = Array.from({ length: steps * B }, () => rng.int(CLASSES));

    const trainer = await HeadTrainStep.create(cpuFactory(1), GRAPH);
    trainer.reset(w0);
    const tsLoss: number[] = [];
    const tsCorrect: number[] = [];
    let grad0: Float32Array | undefined;
    for (let s = 0; s < steps; s++) {
      const batch: TrainBatch = {
        size: B,
        features: x.subarray(s * B * FEATURES, (s + 1) * B * FEATURES),
        labels: labels.slice(s * B, (s + 1) * B),
        weights: sw.subarray(s * B, (s + 1) * B),
        mask: mask.subarray(s * B * HIDDEN, (s + 1) * B * HIDDEN),
      };
      const r = await trainer.step(batch, hyper);
      tsLoss.push(r.loss);
      tsCorrect.push(r.correct);
      if (s === 0) grad0 = joinHead(trainer.moments('m')).map((v) => v / 0.1); // m1 = (1 - beta1) * g
    }
    const wFinal = joinHead(trainer.weights());
    await trainer.release();

    writeFileSync(join(dir, 'w0.f32'), joinHead(w0));
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'mask.f32'), mask);
    writeFileSync(join(dir, 'sw.f32'), sw);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ B, steps, labels, lr: hyper.lr, wd: hyper.weightDecay, smoothing: hyper.labelSmoothing }));
    execFileSync(PY, ['-c', TORCH_REFERENCE, dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    const ref = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { loss: number[]; correct: number[] };
    const read = (f: string) => {
      const b = readFileSync(join(dir, f));
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    };

    for (let s = 0; s < steps; s++) expect(Math.abs(tsLoss[s] - ref.loss[s])).toBeLessThan(2e-5 * Math.abs(ref.loss[s]) + 1e-6);
    expect(tsCorrect).toEqual(ref.correct);
    // gradient per parameter, relative to that parameter's largest gradient
    const g = read('grad0.f32');
    let o = 0;
    for (const p of HEAD_PARAMS) {
      const n = p.dims.reduce((a, b) => a * b, 1);
      expect(maxRelDiff(grad0!.subarray(o, o + n), g.subarray(o, o + n)), p.name).toBeLessThan(1e-4);
      o += n;
    }
    // after 3 AdamW steps the weights moved by ~3*lr; they must agree far below that
    const wRef = read('w_final.f32');
    // Adam divides by sqrt(v): where a gradient is ~1e-8 (float32 rounding noise in both), the normalised update is
    // noise too. So: a handful of such elements may differ; everything else agrees to 0.1% of the step size.
    let moved = 0;
    const flat0 = joinHead(w0);
    for (let i = 0; i < wRef.length; i++) moved = Math.max(moved, Math.abs(wRef[i] - flat0[i]));
    expect(moved).toBeGreaterThan(hyper.lr); // the reference did move
    let off = 0;
    let sumAbs = 0;
    for (let i = 0; i < wRef.length; i++) {
      const d = Math.abs(wFinal[i] - wRef[i]);
      sumAbs += d;
      if (d > moved * 1e-3) {
        off++;
        expect(Math.abs(g[i]), 'only near-zero gradients may disagree').toBeLessThan(1e-6);
      }
    }
    expect(off).toBeLessThan(wRef.length * 1e-4);
    expect(sumAbs / wRef.length).toBeLessThan(moved * 1e-5);
  });
});

const HEAD_ONNX = join(MODELS, 'general', 'head.onnx');
const HEAD_F32 = join(MODELS, 'general', 'head.f32');
const HEAD_FORWARD = join(MODELS, 'general', 'head-forward.onnx');
describe.skipIf(!existsSync(HEAD_ONNX) || !existsSync(HEAD_F32))('head forward graph (weights as inputs)', () => {
  it('with head.f32 fed in, gives the same logits as the exported head.onnx', async () => {
    const rng = new Rng(3);
    const n = 5;
    const x = new Float32Array(n * FEATURES).map(() => Math.max(0, rng.uniform(-1, 2)));
    const fwd = await HeadForward.create(cpuFactory(1), HEAD_FORWARD);
    const mine = await fwd.run(headTensors(headFromBytes(readFileSync(HEAD_F32))), x, n);
    const ref = await ort.InferenceSession.create(HEAD_ONNX);
    const theirs = (await ref.run({ features: new ort.Tensor('float32', x, [n, FEATURES]) })).logits.data as Float32Array;
    expect(mine.length).toBe(n * CLASSES);
    for (let i = 0; i < mine.length; i++) expect(mine[i]).toBeCloseTo(theirs[i], 4);
    await fwd.release();
  });

  it('releases once: a second release (an app closed twice) resolves instead of throwing', async () => {
    const fwd = await HeadForward.create(cpuFactory(1), HEAD_FORWARD);
    await fwd.release();
    await expect(fwd.release()).resolves.toBeUndefined();
  });
});
