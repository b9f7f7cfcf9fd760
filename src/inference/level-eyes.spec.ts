import { describe, expect, it } from 'vitest';
import { eyeAngle, levellingAngle, MAX_LEVEL_DEGREES, rotatedSquare } from './level-eyes';

const deg = (d: number) => (d * Math.PI) / 180;

/** A 48x48 gray image, mid-gray with a smooth gradient (no zeros), and two bright dots where the eyes are. */
function faceWithEyes(angle: number): { gray: Uint8Array; eyes: number[] } {
  const gray = new Uint8Array(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) gray[y * 48 + x] = 60 + x + y;
  // eyes 20 px apart about (24, 20), turned by `angle` about the image centre (24, 24)
  const turn = (x: number, y: number) => [24 + Math.cos(angle) * (x - 24) - Math.sin(angle) * (y - 24), 24 + Math.sin(angle) * (x - 24) + Math.cos(angle) * (y - 24)];
  const eyes = [...turn(14, 20), ...turn(34, 20)];
  for (let e = 0; e < 4; e += 2) {
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) gray[(Math.round(eyes[e + 1] - 0.5) + dy) * 48 + Math.round(eyes[e] - 0.5) + dx] = 255;
  }
  return { gray, eyes };
}

/** Row and column of the brightest 3x3 blob in one half of the image. */
function brightest(gray: Uint8Array, side: number, left: boolean): [number, number] {
  let best = -1;
  let at: [number, number] = [0, 0];
  for (let y = 1; y < side - 1; y++) {
    for (let x = left ? 1 : side / 2; x < (left ? side / 2 : side - 1); x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += gray[(y + dy) * side + x + dx];
      if (sum > best) [best, at] = [sum, [y, x]];
    }
  }
  return at;
}

describe('eyeAngle / levellingAngle', () => {
  it('is the angle from landmark 0 to landmark 1, positive when the second eye is lower (image y down)', () => {
    expect(eyeAngle([10, 20, 30, 20, 0, 0])).toBe(0);
    expect(eyeAngle([10, 20, 30, 40])).toBeCloseTo(deg(45), 10);
    expect(eyeAngle([10, 20, 30, 10])).toBeCloseTo(-Math.atan2(10, 20), 10);
  });

  it('refuses landmarks without both eyes', () => {
    expect(() => eyeAngle([1, 2, 3])).toThrow(RangeError);
    expect(() => eyeAngle([1, 2, Number.NaN, 4])).toThrow(RangeError);
  });

  it(`leaves a face tilted beyond ${MAX_LEVEL_DEGREES} degrees unrotated`, () => {
    const at = (d: number) => [0, 0, 20 * Math.cos(deg(d)), 20 * Math.sin(deg(d))];
    expect(levellingAngle(at(20))).toBeCloseTo(deg(20), 10);
    expect(levellingAngle(at(-29))).toBeCloseTo(deg(-29), 10);
    expect(levellingAngle(at(40))).toBe(0);
    expect(levellingAngle(at(-95))).toBe(0);
  });
});

describe('rotatedSquare', () => {
  it('at angle 0 over the whole image at its own size returns the image unchanged', () => {
    const { gray } = faceWithEyes(0);
    expect(rotatedSquare(gray, 48, 48, { cx: 24, cy: 24, side: 48 }, 0, 48)).toEqual(gray);
  });

  it('levels eyes that were tilted, keeping them where level eyes would be', () => {
    for (const d of [12, -18, 25]) {
      const { gray, eyes } = faceWithEyes(deg(d));
      const [ly, lx] = brightest(gray, 48, true);
      const [ry, rx] = brightest(gray, 48, false);
      expect(Math.abs(ry - ly)).toBeGreaterThan(3); // tilted before
      const out = rotatedSquare(gray, 48, 48, { cx: 24, cy: 24, side: 48 }, eyeAngle(eyes), 48);
      const [oly, olx] = brightest(out, 48, true);
      const [ory, orx] = brightest(out, 48, false);
      expect(Math.abs(ory - oly)).toBeLessThanOrEqual(1);
      // the untilted face had its eyes at rows 19-20, columns 13-14 and 33-34
      expect(oly).toBeGreaterThanOrEqual(18);
      expect(oly).toBeLessThanOrEqual(21);
      expect(Math.abs(olx - 13.5)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(orx - 33.5)).toBeLessThanOrEqual(1.5);
      expect([lx, rx]).not.toEqual([olx, orx]);
    }
  });

  it('repeats edge pixels outside the source instead of black corners', () => {
    const { gray } = faceWithEyes(0);
    const out = rotatedSquare(gray, 48, 48, { cx: 24, cy: 24, side: 48 }, deg(45), 48);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(60);
  });

  it('scales: a square of side 2s read at s pixels samples every other source pixel', () => {
    const gray = new Uint8Array(96 * 96);
    for (let i = 0; i < gray.length; i++) gray[i] = i % 96;
    const out = rotatedSquare(gray, 96, 96, { cx: 48, cy: 48, side: 96 }, 0, 48);
    // output pixel x samples source x' = 2x + 0.5: halfway between columns 2x and 2x+1, rounded half up
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 3, 5, 7]);
    expect(out[47 * 48 + 47]).toBe(95);
  });

  it('refuses a buffer smaller than its size', () => {
    expect(() => rotatedSquare(new Uint8Array(10), 48, 48, { cx: 24, cy: 24, side: 48 }, 0, 48)).toThrow(RangeError);
  });
});
