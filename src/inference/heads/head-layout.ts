import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';

/**
 * Where the FC head's weights sit inside an exported model (expression.onnx), so a personal model is the general file
 * with the head's bytes replaced in place. The layout is written by the Python build (scripts/fer/onnx_layout.py, run
 * by scripts/build_head_train_graph.py and scripts/export.py) with the onnx library, not read from protobuf here.
 * Offsets are only valid for the exact file they were computed from, so the file's sha256 and length are checked.
 */
export const HEAD_LAYOUT_FORMAT = 1;
const REBUILD = 'run `/usr/bin/python3 scripts/build_head_train_graph.py` (or re-export with scripts/export.py)';

export class HeadLayoutError extends Error {
  override name = 'HeadLayoutError';
}

/** A head parameter the caller expects (name as in head.f32, PyTorch dims). */
export interface HeadParamShape {
  readonly name: string;
  readonly dims: readonly number[];
}

export interface HeadRange {
  /** initializer name in the model, e.g. head.fc1.weight */
  initializer: string;
  dims: number[];
  /** absolute byte offset of the initializer's raw_data (float32 little-endian) */
  offset: number;
  length: number;
}

export interface HeadLayout {
  model: string;
  sha256: string;
  bytes: number;
  params: Record<string, HeadRange>;
}

/** The model's bytes together with the layout that was checked against them. */
export interface LaidOutModel {
  bytes: Uint8Array;
  layout: HeadLayout;
}

const uint = z.number().int().nonnegative();
const HeadLayoutSchema = z.object({
  format: z.literal(HEAD_LAYOUT_FORMAT),
  model: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: uint,
  dtype: z.literal('float32'),
  byteOrder: z.literal('little'),
  params: z.record(
    z.string(),
    z.object({ initializer: z.string().min(1), dims: z.array(z.number().int().positive()), offset: uint, length: uint }),
  ),
});

/** models/general/expression.onnx -> models/general/expression.head-layout.json */
export function headLayoutPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.head-layout.json';
}

/**
 * Validate a parsed layout JSON against the parameters the caller will write: each present with the same dims,
 * 4 bytes per float, inside the file, no two ranges overlapping. `source` names the file in errors.
 */
export function parseHeadLayout(json: unknown, params: readonly HeadParamShape[], source = 'head layout'): HeadLayout {
  const parsed = HeadLayoutSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new HeadLayoutError(`${source}: not a head layout (${why}); ${REBUILD}`);
  }
  const l = parsed.data;
  const ranges: [number, number, string][] = [];
  for (const p of params) {
    const r = l.params[p.name];
    if (!r) throw new HeadLayoutError(`${source}: no entry for ${p.name}; ${REBUILD}`);
    if (r.dims.join('x') !== p.dims.join('x')) {
      throw new HeadLayoutError(`${source}: ${p.name} is [${r.dims}], expected [${p.dims}]`);
    }
    const expected = 4 * p.dims.reduce((a, b) => a * b, 1);
    if (r.length !== expected) throw new HeadLayoutError(`${source}: ${p.name} spans ${r.length} bytes, expected ${expected}`);
    if (r.offset + r.length > l.bytes) throw new HeadLayoutError(`${source}: ${p.name} ends past the model's ${l.bytes} bytes`);
    ranges.push([r.offset, r.offset + r.length, p.name]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw new HeadLayoutError(`${source}: ${ranges[i - 1][2]} and ${ranges[i][2]} overlap`);
  }
  return { model: l.model, sha256: l.sha256, bytes: l.bytes, params: l.params };
}

/** The offsets hold only for the file they were computed from: same length, same sha256. */
export function verifyModelBytes(bytes: Uint8Array, layout: HeadLayout, modelPath = layout.model): void {
  const changed = `${modelPath} changed since its head layout was written`;
  if (bytes.byteLength !== layout.bytes) {
    throw new HeadLayoutError(`${changed} (${bytes.byteLength} bytes, layout says ${layout.bytes}); ${REBUILD}`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== layout.sha256) throw new HeadLayoutError(`${changed} (sha256 ${sha.slice(0, 12)}…, layout says ${layout.sha256.slice(0, 12)}…); ${REBUILD}`);
}

/** Read a model and its `<stem>.head-layout.json`, and check that they belong together. */
export async function loadLaidOutModel(modelPath: string, params: readonly HeadParamShape[]): Promise<LaidOutModel> {
  const layoutFile = headLayoutPath(modelPath);
  let text: string;
  try {
    text = await readFile(layoutFile, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new HeadLayoutError(`${layoutFile}: ${missing ? 'missing' : (e as Error).message}; ${REBUILD}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HeadLayoutError(`${layoutFile}: not JSON (${(e as Error).message}); ${REBUILD}`);
  }
  const layout = parseHeadLayout(json, params, basename(layoutFile));
  const bytes = new Uint8Array(await readFile(modelPath));
  verifyModelBytes(bytes, layout, basename(modelPath));
  return { bytes, layout };
}

/**
 * A copy of the model with each parameter's bytes replaced (ONNX raw_data is little-endian, as is every platform
 * Node's onnxruntime ships for). `weights` must hold every parameter of the layout it was loaded for.
 */
export function overwriteHead(model: LaidOutModel, weights: Readonly<Record<string, Float32Array>>, params: readonly HeadParamShape[]): Uint8Array {
  const out = new Uint8Array(model.bytes);
  for (const p of params) {
    const r = model.layout.params[p.name];
    const src = weights[p.name];
    if (!r) throw new HeadLayoutError(`head layout: no entry for ${p.name}`);
    if (!src || src.byteLength !== r.length) {
      throw new HeadLayoutError(`${p.name}: ${src?.byteLength ?? 0} bytes of weights for a ${r.length}-byte range`);
    }
    out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), r.offset);
  }
  return out;
}
