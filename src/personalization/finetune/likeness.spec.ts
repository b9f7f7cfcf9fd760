import { describe, expect, it } from 'vitest';
import { nearestLikeness } from './likeness';

describe('nearestLikeness', () => {
  it('gives each face the cosine similarity of the calibration sample most like it', () => {
    const samples = Float32Array.from([1, 0, 0, /* */ 0, 2, 0]);
    const faces = Float32Array.from([3, 0, 0, /* */ 1, 1, 0, /* */ 0, 0, 5, /* */ 0, 1, 1]);
    const s = nearestLikeness(faces, 4, samples, 2);
    expect(s[0]).toBeCloseTo(1, 6); // the first sample's direction, any length
    expect(s[1]).toBeCloseTo(Math.SQRT1_2, 6); // 45° from both
    expect(s[2]).toBeCloseTo(0, 6); // orthogonal to both
    expect(s[3]).toBeCloseTo(Math.SQRT1_2, 6); // the second sample, 45° off
  });

  it('scores an all-zero face 0 and refuses samples of another feature size', () => {
    expect(Array.from(nearestLikeness(new Float32Array(2), 1, Float32Array.from([1, 0]), 1))).toEqual([0]);
    expect(Array.from(nearestLikeness(Float32Array.from([1, 0]), 1, new Float32Array(0), 0))).toEqual([0]);
    expect(() => nearestLikeness(Float32Array.from([1, 0]), 1, Float32Array.from([1, 0, 0]), 1)).toThrow(/2 features.*3/);
  });
});
