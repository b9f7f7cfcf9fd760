import { LABEL_NAMES } from '../../contracts/labels';

/**
 * The shape of the expression model's FC head (scripts/fer/model.py Head), defined once for every room: the trunk's
 * output width, the hidden layer, the classes (one per label), and the weights in PyTorch layout (out x in, row-major).
 * On disk (`head.f32`, `<version>.head.f32`): raw little-endian float32, concatenated fc1.weight, fc1.bias,
 * fc2.weight, fc2.bias = 2,105,351 floats = 8,421,404 bytes.
 */
/** trunk features per face */
export const FEATURES = 2048;
export const HIDDEN = 1024;
/** logits per face, in LABEL_NAMES order */
export const CLASSES = LABEL_NAMES.length;

export const HEAD_PARAMS = [
  { name: 'fc1.weight', dims: [HIDDEN, FEATURES] },
  { name: 'fc1.bias', dims: [HIDDEN] },
  { name: 'fc2.weight', dims: [CLASSES, HIDDEN] },
  { name: 'fc2.bias', dims: [CLASSES] },
] as const;
export type HeadParamName = (typeof HEAD_PARAMS)[number]['name'];
export type HeadWeights = Record<HeadParamName, Float32Array>;

export const HEAD_FLOATS = HEAD_PARAMS.reduce((n, p) => n + p.dims.reduce((a, b) => a * b, 1), 0);
export const HEAD_BYTES = HEAD_FLOATS * 4;

export function paramSize(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Views into one contiguous Float32Array (no copy). Throws when the buffer has the wrong size. */
export function splitHead(flat: Float32Array): HeadWeights {
  if (flat.length !== HEAD_FLOATS) throw new Error(`head weights: expected ${HEAD_FLOATS} floats, got ${flat.length}`);
  const out = {} as HeadWeights;
  let o = 0;
  for (const p of HEAD_PARAMS) {
    const n = paramSize(p.dims);
    out[p.name] = flat.subarray(o, o + n);
    o += n;
  }
  return out;
}

/** One contiguous copy, in file order. */
export function joinHead(w: HeadWeights): Float32Array {
  const flat = new Float32Array(HEAD_FLOATS);
  let o = 0;
  for (const p of HEAD_PARAMS) {
    flat.set(w[p.name], o);
    o += w[p.name].length;
  }
  return flat;
}

/** Bytes of a `.head.f32` file -> weights (copies into an aligned buffer; the file format is little-endian). */
export function headFromBytes(bytes: Uint8Array): HeadWeights {
  if (bytes.byteLength !== HEAD_BYTES) throw new Error(`head weights: expected ${HEAD_BYTES} bytes, got ${bytes.byteLength}`);
  const flat = new Float32Array(HEAD_FLOATS);
  new Uint8Array(flat.buffer).set(bytes);
  return splitHead(flat);
}

export function headToBytes(w: HeadWeights): Uint8Array {
  const flat = joinHead(w);
  return new Uint8Array(flat.buffer, flat.byteOffset, flat.byteLength);
}
