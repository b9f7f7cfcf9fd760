import { describe, expect, it } from 'vitest';
import { letterboxInto, letterboxTransform, toSourceBox } from './letterbox';
import { nms } from './yunet.decode';

describe('letterbox', () => {
  it('maps a non-square frame into the square input and back', () => {
    const t = letterboxTransform(640, 480, 320);
    expect(t.scale).toBe(0.5);
    expect([t.padX, t.padY]).toEqual([0, 40]);
    const back = toSourceBox({ x: 100, y: 140, w: 50, h: 60 }, t);
    expect(back).toEqual({ x: 200, y: 200, w: 100, h: 120 });
  });

  it('clips boxes to the source frame', () => {
    const t = letterboxTransform(640, 480, 320);
    expect(toSourceBox({ x: -10, y: 30, w: 50, h: 400 }, t)).toEqual({ x: 0, y: 0, w: 80, h: 480 });
  });

  it('writes planar BGR, leaves the border black and keeps the picture where the transform says', () => {
    // 4x2 image: left half pure blue (B=255), right half pure red (R=255), in BGR order
    const src = new Uint8Array(4 * 2 * 3);
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 4; x++) src.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
    const size = 8;
    const dst = new Float32Array(3 * size * size);
    const t = letterboxInto(src, 4, 2, size, dst, 0);
    expect(t).toMatchObject({ scale: 2, padX: 0, padY: 2 });
    const at = (c: number, x: number, y: number) => dst[c * size * size + y * size + x];
    expect(at(0, 0, 0)).toBe(0); // border row
    expect(at(0, 0, 3)).toBe(255); // blue plane, left
    expect(at(2, 0, 3)).toBe(0);
    expect(at(2, 7, 4)).toBe(255); // red plane, right
    expect(at(0, 7, 4)).toBe(0);
    expect(at(1, 7, 4)).toBe(0); // green never set
    expect(at(0, 0, 7)).toBe(0); // bottom border
  });
});

describe('nms', () => {
  it('keeps the best of overlapping boxes and separate boxes', () => {
    const d = (x: number, score: number) => ({ box: { x, y: 0, w: 10, h: 10 }, score, landmarks: [] });
    const kept = nms([d(0, 0.9), d(1, 0.8), d(50, 0.7)], 0.3);
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.7]);
  });
});
