import { describe, expect, it } from 'vitest';
import { checkQuality, DEFAULT_QUALITY, laplacianVariance, meanAbsDifference } from './sample-quality';

/** A 96x96 pattern with edges (a face-like checker of 8 px cells with a gradient), and a box-blurred copy. */
function pattern(side = 96): Uint8Array {
  const p = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) p[y * side + x] = ((x >> 3) + (y >> 3)) % 2 ? 200 - x : 40 + y;
  return p;
}
function boxBlur(src: Uint8Array, side: number, r: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      let s = 0;
      let n = 0;
      for (let dy = -r; dy <= r; dy++)
        for (let dx = -r; dx <= r; dx++) {
          const yy = Math.min(side - 1, Math.max(0, y + dy));
          const xx = Math.min(side - 1, Math.max(0, x + dx));
          s += src[yy * side + xx];
          n++;
        }
      out[y * side + x] = Math.round(s / n);
    }
  return out;
}
const crop48 = (seed: number) => new Uint8Array(48 * 48).map((_, i) => (i * 7 + seed * 31) % 256);

describe('sample quality checks', () => {
  it('Laplacian variance: sharp edges score high, a blurred copy low, a flat image zero', () => {
    const sharp = pattern();
    expect(laplacianVariance(sharp, 96, 96)).toBeGreaterThan(DEFAULT_QUALITY.minSharpness * 5);
    expect(laplacianVariance(boxBlur(sharp, 96, 4), 96, 96)).toBeLessThan(DEFAULT_QUALITY.minSharpness);
    expect(laplacianVariance(new Uint8Array(96 * 96).fill(128), 96, 96)).toBe(0);
  });

  it('rejects too small, blurred and duplicate crops, in that order, and accepts a good one', () => {
    const large = { data: pattern(), width: 96, height: 96 };
    const blurred = { data: boxBlur(pattern(), 96, 4), width: 96, height: 96 };
    const good = { box: { x: 0, y: 0, w: 120, h: 140 }, crop48: crop48(1), cropLarge: large };
    expect(checkQuality(good, null)).toBeNull();
    expect(checkQuality({ ...good, box: { x: 0, y: 0, w: 30, h: 40 } }, null)).toBe('too_small');
    expect(checkQuality({ ...good, cropLarge: blurred }, null)).toBe('blurred');
    expect(checkQuality(good, crop48(1))).toBe('duplicate');
    const nearly = crop48(1).map((v, i) => (i % 2 ? Math.min(255, v + 1) : v));
    expect(meanAbsDifference(nearly, crop48(1))).toBeLessThan(1);
    expect(checkQuality(good, nearly)).toBe('duplicate');
    expect(checkQuality(good, crop48(2))).toBeNull();
  });
});
