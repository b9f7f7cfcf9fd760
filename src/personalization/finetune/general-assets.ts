import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FEATURES, HeadWeights, headFromBytes } from '../../inference/heads/head-shape';
import { ReplaySet } from './finetune.trainer';

/** Where the fine-tuning inputs live inside MODELS_DIR (written by scripts/train.py --export and build_head_train_graph.py). */
export interface GeneralAssetPaths {
  trunk: string;
  head: string;
  headOnnx: string;
  expression: string;
  trainStep: string;
  /** the head's forward pass, weights as inputs */
  headForward: string;
  replay: string;
  replayMeta: string;
}

export function generalAssetPaths(modelsDir: string): GeneralAssetPaths {
  const d = join(modelsDir, 'general');
  return {
    trunk: join(d, 'trunk.onnx'),
    head: join(d, 'head.f32'),
    headOnnx: join(d, 'head.onnx'),
    expression: join(d, 'expression.onnx'),
    trainStep: join(d, 'head-train-step.onnx'),
    headForward: join(d, 'head-forward.onnx'),
    replay: join(d, 'replay.f32'),
    replayMeta: join(d, 'replay.json'),
  };
}

const ReplayMetaSchema = z.object({
  count: z.number().int().nonnegative(),
  featureSize: z.literal(FEATURES),
  labels: z.array(z.number().int().min(0).max(6)),
});

export function loadGeneralHead(path: string): HeadWeights {
  return headFromBytes(readFileSync(path));
}

export function loadReplay(featuresPath: string, metaPath: string): ReplaySet {
  const meta = ReplayMetaSchema.parse(JSON.parse(readFileSync(metaPath, 'utf8')));
  if (meta.labels.length !== meta.count) throw new Error(`replay.json: ${meta.labels.length} labels for ${meta.count} rows`);
  const bytes = readFileSync(featuresPath);
  if (bytes.byteLength !== meta.count * FEATURES * 4) {
    throw new Error(`replay.f32: expected ${meta.count * FEATURES * 4} bytes, got ${bytes.byteLength}`);
  }
  const features = new Float32Array(meta.count * FEATURES);
  new Uint8Array(features.buffer).set(bytes);
  return { features, labels: Int32Array.from(meta.labels), count: meta.count };
}

/**
 * sha256 of the trunk file: the identity of the features a personal head reads (the value models/manifest.json lists
 * for general/trunk.onnx). Personal versions record it; ModelRegistry applies only versions of the shipped one.
 */
export async function trunkSha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
