/**
 * The classifier's input contract, identical to scripts/fer/data.py (a parity test holds them together):
 *   1. grayscale with ITU-R 601 integer luma, as PIL's "L": Y = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
 *   2. exact area-average resize to 48x48 (float64 overlap weights), rounded half-up to uint8
 *   3. float32 = uint8 / 255
 */
export const INPUT_SIZE = 48;

/** Packed 3-channel pixels -> uint8 luma. `order` says where R, G and B sit in each pixel. */
export function toGray(data: Uint8Array, width: number, height: number, order: 'rgb' | 'bgr', channels = 3): Uint8Array {
  const out = new Uint8Array(width * height);
  const [ri, bi] = order === 'rgb' ? [0, 2] : [2, 0];
  for (let i = 0, p = 0; i < out.length; i++, p += channels) {
    out[i] = (data[p + ri] * 19595 + data[p + 1] * 38470 + data[p + bi] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

interface AreaWeights {
  /** dst x src overlap weights, rows sum to 1. */
  w: Float64Array;
  /** For output o, the source taps with a non-zero weight are [from[o], to[o]). */
  from: Int32Array;
  to: Int32Array;
}

const weightCache = new Map<string, AreaWeights>();

/** dst x src overlap weights (same loop as _area_weights in scripts/fer/data.py). */
function areaWeights(src: number, dst: number): AreaWeights {
  const key = `${src}:${dst}`;
  const hit = weightCache.get(key);
  if (hit) return hit;
  const w = new Float64Array(dst * src);
  const from = new Int32Array(dst);
  const to = new Int32Array(dst);
  const scale = src / dst;
  for (let o = 0; o < dst; o++) {
    const start = o * scale;
    const end = (o + 1) * scale;
    from[o] = src;
    for (let i = Math.floor(start); i < end && i < src; i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 0) {
        w[o * src + i] = overlap / scale;
        from[o] = Math.min(from[o], i);
        to[o] = i + 1;
      }
    }
  }
  const entry = { w, from, to };
  if (weightCache.size > 256) weightCache.clear();
  weightCache.set(key, entry);
  return entry;
}

/**
 * Area-average resize of a uint8 grayscale image (Wy @ img @ Wx^T in float64, like numpy), rounded half-up.
 * Only the non-zero taps are visited: skipping exact zeros leaves every sum bit-identical to the full product.
 */
export function areaResize(gray: Uint8Array, width: number, height: number, outW = INPUT_SIZE, outH = INPUT_SIZE): Uint8Array {
  if (width === outW && height === outH) return gray;
  const wy = areaWeights(height, outH);
  const wx = areaWeights(width, outW);
  // rows first: tmp[outH x width] = Wy @ img  (numpy evaluates (Wy @ img) @ Wx^T left to right)
  const tmp = new Float64Array(outH * width);
  for (let o = 0; o < outH; o++) {
    const t = o * width;
    for (let i = wy.from[o]; i < wy.to[o]; i++) {
      const k = wy.w[o * height + i];
      const row = i * width;
      for (let x = 0; x < width; x++) tmp[t + x] += k * gray[row + x];
    }
  }
  const out = new Uint8Array(outW * outH);
  for (let o = 0; o < outH; o++) {
    const t = o * width;
    for (let c = 0; c < outW; c++) {
      let s = 0;
      const wrow = c * width;
      for (let x = wx.from[c]; x < wx.to[c]; x++) s += tmp[t + x] * wx.w[wrow + x];
      out[o * outW + c] = Math.min(255, Math.max(0, Math.floor(s + 0.5)));
    }
  }
  return out;
}

/** Write one 48x48 uint8 face into a float32 batch tensor at index `slot` (NCHW, C=1). */
export function writeInput(face: Uint8Array, batch: Float32Array, slot: number): void {
  const o = slot * INPUT_SIZE * INPUT_SIZE;
  for (let i = 0; i < INPUT_SIZE * INPUT_SIZE; i++) batch[o + i] = face[i] / 255;
}
