import { describe, expect, it } from 'vitest';
import { cropRegion } from './face-crop';

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
