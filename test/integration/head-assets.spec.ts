/**
 * The head assets that scripts/build_head_train_graph.py generates: head-forward.onnx (the head's forward pass with
 * its weights as inputs) and expression.head-layout.json (where the head's weights sit inside expression.onnx).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLaidOutModel } from '../../src/inference/heads/head-layout';
import { CLASSES, FEATURES, HEAD_PARAMS, HIDDEN, splitHead } from '../../src/inference/heads/head-shape';
import { MODELS } from '../support/paths';

const GENERAL = join(MODELS, 'general');
const EXPRESSION = join(GENERAL, 'expression.onnx');
const FORWARD = join(GENERAL, 'head-forward.onnx');
const HEAD_F32 = join(GENERAL, 'head.f32');

function seeded(n: number, seed: number, scale: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5) * scale);
}

/** logits = relu(x W1^T + b1) W2^T + b2, in float64. */
function reference(x: Float32Array, n: number, w: Record<string, Float32Array>): Float64Array {
  const out = new Float64Array(n * CLASSES);
  const h = new Float64Array(HIDDEN);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < HIDDEN; j++) {
      let z = w['fc1.bias'][j];
      for (let k = 0; k < FEATURES; k++) z += x[r * FEATURES + k] * w['fc1.weight'][j * FEATURES + k];
      h[j] = Math.max(0, z);
    }
    for (let c = 0; c < CLASSES; c++) {
      let z = w['fc2.bias'][c];
      for (let j = 0; j < HIDDEN; j++) z += h[j] * w['fc2.weight'][c * HIDDEN + j];
      out[r * CLASSES + c] = z;
    }
  }
  return out;
}

describe.skipIf(!existsSync(FORWARD))('head-forward.onnx', () => {
  // It replaces a graph that src/personalization/onnx/onnx-proto.ts wrote by hand: the generated file was byte-identical
  // to it and gave bit-identical logits on these inputs before that file was deleted.
  it('computes relu(x W1^T + b1) W2^T + b2 with the weights fed as inputs', async () => {
    const n = 3;
    const weights: Record<string, Float32Array> = {};
    HEAD_PARAMS.forEach((p, i) => (weights[p.name] = seeded(p.dims.reduce((a, b) => a * b, 1), 11 + i, 0.1)));
    const feeds: Record<string, ort.Tensor> = { features: new ort.Tensor('float32', seeded(n * FEATURES, 7, 4), [n, FEATURES]) };
    for (const p of HEAD_PARAMS) feeds[p.name] = new ort.Tensor('float32', weights[p.name], [...p.dims]);
    const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
    const session = await ort.InferenceSession.create(FORWARD, opts);
    expect(session.inputNames).toEqual(['features', ...HEAD_PARAMS.map((p) => p.name)]);
    const a = (await session.run(feeds)).logits;
    await session.release();
    expect(a.dims).toEqual([n, CLASSES]);
    const ref = reference(feeds.features.data as Float32Array, n, weights);
    (a.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 3));
  });
});

describe.skipIf(!existsSync(EXPRESSION) || !existsSync(HEAD_F32))('expression.head-layout.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'head-layout-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('points at the general head inside expression.onnx (the bytes equal head.f32)', async () => {
    const { bytes, layout } = await loadLaidOutModel(EXPRESSION, HEAD_PARAMS);
    const head = splitHead(new Float32Array(new Uint8Array(readFileSync(HEAD_F32)).buffer));
    for (const p of HEAD_PARAMS) {
      const r = layout.params[p.name];
      expect(r.initializer).toBe(`head.${p.name}`);
      const w = head[p.name];
      expect(Buffer.from(bytes.subarray(r.offset, r.offset + r.length)).equals(Buffer.from(w.buffer, w.byteOffset, w.byteLength))).toBe(true);
    }
  });

  it('refuses an expression.onnx it was not written for, or a missing layout, naming the build script', async () => {
    const model = join(dir, 'expression.onnx');
    const edited = new Uint8Array(readFileSync(EXPRESSION));
    edited[100] ^= 0xff;
    writeFileSync(model, edited);
    await expect(loadLaidOutModel(model, HEAD_PARAMS)).rejects.toThrow(/expression.head-layout.json: missing; run .*build_head_train_graph\.py/);
    copyFileSync(join(GENERAL, 'expression.head-layout.json'), join(dir, 'expression.head-layout.json'));
    await expect(loadLaidOutModel(model, HEAD_PARAMS)).rejects.toThrow(
      /expression.onnx changed since its head layout was written \(sha256 .*\); run .*build_head_train_graph\.py/,
    );
    copyFileSync(EXPRESSION, model);
    await expect(loadLaidOutModel(model, HEAD_PARAMS)).resolves.toMatchObject({ layout: { bytes: edited.length } });
  });
});
