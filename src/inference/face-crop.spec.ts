import { describe, expect, it } from 'vitest';
import { cropFace, cropRegion, DEFAULT_CROP } from './face-crop';

describe('cropRegion', () => {
  it('makes a square inside the frame, shifted in when it would cross the border', () => {
    const r = cropRegion({ x: 0, y: 10, w: 100, h: 140 }, 640, 480, { basis: 'max', scale: 1, shiftY: 0 });
    expect(r).toEqual({ x: 0, y: 10, w: 140, h: 140 });
    const m = cropRegion({ x: 200, y: 100, w: 100, h: 140 }, 640, 480, { basis: 'mean', scale: 0.9, shiftY: 0.05 });
    expect(m.w).toBe(108);
    expect(m.h).toBe(108);
    expect(m.y + m.h / 2).toBeCloseTo(170 + 0.05 * 108, 0);
    const big = cropRegion({ x: 0, y: 0, w: 500, h: 500 }, 320, 240, { basis: 'max', scale: 1, shiftY: 0 });
    expect(big).toEqual({ x: 0, y: 0, w: 320, h: 240 });
  });
});

describe('cropFace with levelEyes', () => {
  /** A 320x240 BGR frame with a smooth gradient, so any shift or turn of the crop changes its pixels. */
  const frame = (() => {
    const data = new Uint8Array(320 * 240 * 3);
    for (let y = 0; y < 240; y++) {
      for (let x = 0; x < 320; x++) {
        const p = (y * 320 + x) * 3;
        data[p] = (x * 3 + y) & 255;
        data[p + 1] = (x + y * 2) & 255;
        data[p + 2] = (x * y) & 255;
      }
    }
    return { data, width: 320, height: 240 };
  })();
  const box = { x: 100, y: 60, w: 100, h: 120 };
  const level = { ...DEFAULT_CROP, levelEyes: true };

  it('with level eyes is the plain crop exactly (a square region under 192 px is sampled at its own pixels)', () => {
    const plain = cropFace(frame, box);
    const levelled = cropFace(frame, box, level, 0, [130, 100, 170, 100]);
    expect(levelled.region).toEqual(plain.region);
    expect(levelled.crop48).toEqual(plain.crop48);
  });

  it('with tilted eyes turns the crop, and leaves it unturned without landmarks or beyond 30 degrees', () => {
    const plain = cropFace(frame, box).crop48;
    expect(cropFace(frame, box, level, 0, [130, 95, 170, 105]).crop48).not.toEqual(plain);
    expect(cropFace(frame, box, level).crop48).toEqual(plain);
    expect(cropFace(frame, box, level, 0, [130, 80, 170, 120]).crop48).toEqual(plain);
  });

  it('gives the large crop from the same levelled square', () => {
    const c = cropFace(frame, box, level, 64, [130, 95, 170, 105]);
    expect(c.cropLarge).toMatchObject({ width: 64, height: 64 });
    expect(c.cropLarge!.data).toHaveLength(64 * 64);
  });
});
