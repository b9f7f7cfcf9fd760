import { INPUT_SIZE } from '../../inference/preprocess';
import { Rng } from './rng';

export interface AugmentOptions {
  flip: boolean;
  /** degrees, +- */
  rotate: number;
  /** scale range around 1, e.g. 0.08 = 0.92..1.08 */
  scale: number;
  /** pixels, +- */
  shift: number;
  /** additive, fraction of 255, +- */
  brightness: number;
  /** multiplicative around the mean, +- */
  contrast: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { flip: true, rotate: 10, scale: 0.08, shift: 3, brightness: 0.1, contrast: 0.2 };

/**
 * One random variant of a 48x48 uint8 face: horizontal flip, rotation, scale, shift (bilinear, edges clamped),
 * brightness/contrast jitter. Works on the 48x48 classifier input (after preprocess.ts's area resize), where a
 * near-1:1 bilinear resample adds no aliasing. Same ranges as scripts/train.py's augment().
 */
export function augmentFace(face: Uint8Array, rng: Rng, o: AugmentOptions = DEFAULT_AUGMENT): Uint8Array {
  const n = INPUT_SIZE;
  const flip = o.flip && rng.next() < 0.5;
  const ang = (rng.uniform(-o.rotate, o.rotate) * Math.PI) / 180;
  const sc = 1 + rng.uniform(-o.scale, o.scale);
  const tx = rng.uniform(-o.shift, o.shift);
  const ty = rng.uniform(-o.shift, o.shift);
  const bright = rng.uniform(-o.brightness, o.brightness) * 255;
  const contrast = 1 + rng.uniform(-o.contrast, o.contrast);
  let mean = 0;
  for (let i = 0; i < face.length; i++) mean += face[i];
  mean /= face.length;
  // inverse map: output pixel -> source pixel
  const c = (n - 1) / 2;
  const cos = Math.cos(ang) / sc;
  const sin = Math.sin(ang) / sc;
  const out = new Uint8Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const dx = (flip ? n - 1 - x : x) - c - tx;
      const dy = y - c - ty;
      const sx = Math.min(n - 1, Math.max(0, cos * dx + sin * dy + c));
      const sy = Math.min(n - 1, Math.max(0, -sin * dx + cos * dy + c));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(n - 1, x0 + 1);
      const y1 = Math.min(n - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const v =
        (face[y0 * n + x0] * (1 - fx) + face[y0 * n + x1] * fx) * (1 - fy) +
        (face[y1 * n + x0] * (1 - fx) + face[y1 * n + x1] * fx) * fy;
      out[y * n + x] = Math.min(255, Math.max(0, Math.round((v - mean) * contrast + mean + bright)));
    }
  }
  return out;
}
