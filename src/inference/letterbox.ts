import { Box } from '../contracts/geometry';

/**
 * Where a source frame sits inside the square detector input: input = source * scale + pad.
 * Frames of any size share one input size, so frames of different cameras go through one session.run.
 */
export interface LetterboxTransform {
  scale: number;
  padX: number;
  padY: number;
  srcWidth: number;
  srcHeight: number;
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float32Array;
}
const tapCache = new Map<string, Taps>();

/** Bilinear taps (half-pixel centres, like cv2.INTER_LINEAR) for resizing `src` samples to `dst`. */
function taps(src: number, dst: number): Taps {
  const key = `${src}:${dst}`;
  const hit = tapCache.get(key);
  if (hit) return hit;
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float32Array(dst);
  const ratio = src / dst;
  for (let o = 0; o < dst; o++) {
    const p = Math.min(Math.max((o + 0.5) * ratio - 0.5, 0), src - 1);
    const a = Math.floor(p);
    i0[o] = a;
    i1[o] = Math.min(a + 1, src - 1);
    w1[o] = p - a;
  }
  if (tapCache.size > 64) tapCache.clear();
  const t = { i0, i1, w1 };
  tapCache.set(key, t);
  return t;
}

export function letterboxTransform(srcWidth: number, srcHeight: number, size: number): LetterboxTransform {
  const scale = Math.min(size / srcWidth, size / srcHeight);
  const w = Math.round(srcWidth * scale);
  const h = Math.round(srcHeight * scale);
  return { scale, padX: Math.floor((size - w) / 2), padY: Math.floor((size - h) / 2), srcWidth, srcHeight };
}

/**
 * Scale packed BGR24 pixels into a planar float32 BGR (0..255) square of side `size`, written at `offset` of `dst`
 * (a [N,3,size,size] batch). The border is 0 (black); `dst` must arrive zeroed there (a fresh Float32Array is).
 */
export function letterboxInto(
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  size: number,
  dst: Float32Array,
  offset: number,
): LetterboxTransform {
  const t = letterboxTransform(srcWidth, srcHeight, size);
  const w = Math.round(srcWidth * t.scale);
  const h = Math.round(srcHeight * t.scale);
  const plane = size * size;
  const xs = taps(srcWidth, w);
  const ys = taps(srcHeight, h);
  const stride = srcWidth * 3;
  const g = plane;
  const r = 2 * plane;
  for (let y = 0; y < h; y++) {
    const r0 = ys.i0[y] * stride;
    const r1 = ys.i1[y] * stride;
    const fy = ys.w1[y];
    const gy = 1 - fy;
    let o = offset + (y + t.padY) * size + t.padX;
    for (let x = 0; x < w; x++, o++) {
      const c0 = xs.i0[x] * 3;
      const c1 = xs.i1[x] * 3;
      const fx = xs.w1[x];
      const gx = 1 - fx;
      // weights of the 4 neighbours; the channels are unrolled (B, G, R) - this loop is the detector's JS cost
      const w00 = gx * gy;
      const w01 = fx * gy;
      const w10 = gx * fy;
      const w11 = fx * fy;
      const a = r0 + c0;
      const b = r0 + c1;
      const c = r1 + c0;
      const d = r1 + c1;
      dst[o] = src[a] * w00 + src[b] * w01 + src[c] * w10 + src[d] * w11;
      dst[o + g] = src[a + 1] * w00 + src[b + 1] * w01 + src[c + 1] * w10 + src[d + 1] * w11;
      dst[o + r] = src[a + 2] * w00 + src[b + 2] * w01 + src[c + 2] * w10 + src[d + 2] * w11;
    }
  }
  return t;
}

/** Detector-input coordinates back to source-frame pixels, clipped to the frame. */
export function toSourceBox(box: Box, t: LetterboxTransform): Box {
  const x0 = Math.max(0, (box.x - t.padX) / t.scale);
  const y0 = Math.max(0, (box.y - t.padY) / t.scale);
  const x1 = Math.min(t.srcWidth, (box.x + box.w - t.padX) / t.scale);
  const y1 = Math.min(t.srcHeight, (box.y + box.h - t.padY) / t.scale);
  return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
}

export function toSourcePoint(x: number, y: number, t: LetterboxTransform): [number, number] {
  return [(x - t.padX) / t.scale, (y - t.padY) / t.scale];
}
