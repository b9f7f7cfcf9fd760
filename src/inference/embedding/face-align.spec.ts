import { describe, expect, it } from 'vitest';
import {
  ALIGNED_SIZE,
  AlignmentError,
  alignFace,
  applySimilarity,
  arcfaceTemplate,
  dlibTemplate,
  FACE_TEMPLATE,
  invertSimilarity,
  alignFaceViews,
  largestFace,
  scaleAbout,
  similarityTransform,
  warpToCrop,
} from './face-align';

const transformPoints = (pts: readonly number[], t: { a: number; b: number; tx: number; ty: number }) => {
  const out: number[] = [];
  for (let i = 0; i < pts.length; i += 2) out.push(...applySimilarity(t, pts[i], pts[i + 1]));
  return out;
};

describe('similarityTransform (least squares, Umeyama)', () => {
  it('recovers a known rotation + scale + translation exactly', () => {
    const angle = 0.3;
    const scale = 1.7;
    const truth = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx: 12.5, ty: -40 };
    const src = [100, 120, 160, 118, 130, 150, 105, 180, 155, 182];
    const t = similarityTransform(src, transformPoints(src, truth));
    expect(t.a).toBeCloseTo(truth.a, 9);
    expect(t.b).toBeCloseTo(truth.b, 9);
    expect(t.tx).toBeCloseTo(truth.tx, 7);
    expect(t.ty).toBeCloseTo(truth.ty, 7);
  });

  it('is the least-squares fit under noise: no better similarity exists nearby', () => {
    const truth = { a: 0.9, b: -0.2, tx: 5, ty: 7 };
    const src = [10, 10, 50, 12, 30, 35, 15, 60, 48, 58];
    const noise = [0.8, -0.5, -0.3, 0.9, 0.4, -0.7, -0.9, 0.2, 0.6, 0.1];
    const dst = transformPoints(src, truth).map((v, i) => v + noise[i]);
    const t = similarityTransform(src, dst);
    const sse = (u: typeof t) => transformPoints(src, u).reduce((s, v, i) => s + (v - dst[i]) ** 2, 0);
    const best = sse(t);
    for (const k of ['a', 'b', 'tx', 'ty'] as const) {
      for (const d of [-1e-3, 1e-3]) expect(sse({ ...t, [k]: t[k] + d })).toBeGreaterThan(best);
    }
  });

  it('maps a face with YuNet-like landmarks onto the template, and inverts', () => {
    const landmarks = [210, 300, 290, 296, 252, 345, 218, 385, 285, 382];
    const t = similarityTransform(landmarks, FACE_TEMPLATE);
    const mapped = transformPoints(landmarks, t);
    mapped.forEach((v, i) => expect(Math.abs(v - FACE_TEMPLATE[i])).toBeLessThan(6));
    const back = transformPoints(mapped, invertSimilarity(t));
    back.forEach((v, i) => expect(v).toBeCloseTo(landmarks[i], 6));
  });

  it('rejects degenerate or malformed landmarks with a typed error', () => {
    expect(() => similarityTransform([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], FACE_TEMPLATE)).toThrow(AlignmentError);
    expect(() => similarityTransform([1, 2, 3], [1, 2, 3])).toThrow(AlignmentError);
    expect(() => similarityTransform([0, 0, 1, NaN], [0, 0, 1, 1])).toThrow(AlignmentError);
  });
});

describe('templates', () => {
  it("dlib's chip geometry: eyes level and symmetric about the centre line, mouth below the nose", () => {
    const t = dlibTemplate();
    const [rex, rey, lex, ley, nx, ny, rmx, rmy, lmx, lmy] = t;
    expect(rey).toBeCloseTo(ley, 9);
    expect((rex + lex) / 2).toBeCloseTo(nx, 0);
    expect(rmy).toBeCloseTo(lmy, 9);
    expect(ny).toBeGreaterThan(rey);
    expect(rmy).toBeGreaterThan(ny);
    expect(lex - rex).toBeCloseTo(52.9, 0); // (0.754762 − 0.225492) · 150 / 1.5
    expect(rmx).toBeLessThan(lmx);
    for (const v of t) expect(v).toBeGreaterThan(0);
    for (const v of t) expect(v).toBeLessThan(ALIGNED_SIZE);
  });

  it('the ArcFace template scales from 112 to 150', () => {
    expect(arcfaceTemplate(112)[0]).toBeCloseTo(38.2946, 4);
    expect(arcfaceTemplate()[0]).toBeCloseTo((38.2946 * 150) / 112, 4);
  });
});

/** An image with a single bright square (in one channel) on black; everything else 0. */
function squareImage(width: number, height: number, x0: number, y0: number, side: number, order: 'bgr' | 'rgb') {
  const data = new Uint8Array(width * height * 3);
  const red = order === 'bgr' ? 2 : 0;
  for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) data[(y * width + x) * 3 + red] = 200;
  return { data, width, height };
}

describe('warpToCrop (bilinear)', () => {
  it('identity transform copies pixels and converts BGR to RGB', () => {
    const img = squareImage(150, 150, 10, 20, 5, 'bgr');
    img.data[0] = 7; // B of pixel (0,0)
    const out = warpToCrop(img, 'bgr', { a: 1, b: 0, tx: 0, ty: 0 });
    expect(out[0 * 3 + 2]).toBe(7); // → B in RGB slot 2
    expect(out[(22 * 150 + 12) * 3]).toBe(200); // red inside the square lands in R
    expect(out[(22 * 150 + 12) * 3 + 2]).toBe(0);
    expect(out[(50 * 150 + 50) * 3]).toBe(0);
  });

  it('a translated and scaled square lands where the transform puts it', () => {
    const img = squareImage(400, 300, 200, 100, 40, 'rgb'); // covers x 200..239, y 100..139
    // scale 0.5, then shift: source (200,100) → (20, 30)
    const t = { a: 0.5, b: 0, tx: 20 - 100, ty: 30 - 50 };
    const out = warpToCrop(img, 'rgb', t);
    const at = (x: number, y: number) => out[(y * 150 + x) * 3];
    expect(at(30, 40)).toBe(200); // centre of the 20-pixel square at (20..39, 30..49)
    expect(at(21, 31)).toBe(200);
    expect(at(38, 48)).toBe(200);
    expect(at(45, 40)).toBe(0);
    expect(at(30, 55)).toBe(0);
    expect(at(10, 10)).toBe(0);
  });

  it('a 90° rotation moves a corner marker to the rotated position; outside the image is black', () => {
    const img = squareImage(100, 100, 70, 10, 10, 'rgb'); // top-right block x 70..79, y 10..19
    // rotate +90° about the origin (x,y) → (−y, x), then shift right by 120: (75,15) → (105, 75)
    const t = { a: 0, b: 1, tx: 120, ty: 0 };
    const out = warpToCrop(img, 'rgb', t);
    const at = (x: number, y: number) => out[(y * 150 + x) * 3];
    expect(at(105, 75)).toBe(200);
    expect(at(75, 105)).toBe(0);
    expect(at(140, 140)).toBe(0); // maps outside the source
  });

  it('interpolates bilinearly between neighbours', () => {
    const img = { data: new Uint8Array(2 * 1 * 3), width: 2, height: 1 };
    img.data[0] = 0;
    img.data[3] = 100;
    // crop x = source x + 0.25 shift: crop pixel 0 samples source x = 0.25 → 25
    const out = warpToCrop(img, 'rgb', { a: 1, b: 0, tx: -0.25, ty: 0 }, 2);
    expect(out[0]).toBe(25);
  });

  it('alignFace puts the landmarks of a synthetic face on the template', () => {
    // a "face": three bright dots (eyes, mouth centre) in a 300×300 image, rotated 20° and scaled
    const base = FACE_TEMPLATE;
    const angle = (20 * Math.PI) / 180;
    const truth = { a: 1.6 * Math.cos(angle), b: 1.6 * Math.sin(angle), tx: 60, ty: 30 };
    const landmarks = transformPoints(base, truth);
    const img = { data: new Uint8Array(300 * 300 * 3), width: 300, height: 300 };
    const dot = (x: number, y: number) => {
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) img.data[(Math.round(y + dy) * 300 + Math.round(x + dx)) * 3 + 1] = 255;
    };
    dot(landmarks[0], landmarks[1]);
    dot(landmarks[2], landmarks[3]);
    const { crop, transform } = alignFace(img, 'rgb', landmarks);
    expect(transform.a).toBeCloseTo(Math.cos(-angle) / 1.6, 6);
    const g = (x: number, y: number) => crop[(Math.round(y) * 150 + Math.round(x)) * 3 + 1];
    expect(g(base[0], base[1])).toBeGreaterThan(200);
    expect(g(base[2], base[3])).toBeGreaterThan(200);
    expect(g(base[4], base[5])).toBe(0); // nose: no dot there
    expect(() => alignFace(img, 'rgb', [1, 2, 3])).toThrow(AlignmentError);
  });

  it('rejects a buffer shorter than its stated size', () => {
    expect(() => warpToCrop({ data: new Uint8Array(10), width: 10, height: 10 }, 'rgb', { a: 1, b: 0, tx: 0, ty: 0 })).toThrow(AlignmentError);
  });
});

describe('largestFace', () => {
  it('picks by box area; undefined for none', () => {
    const faces = [{ box: { w: 10, h: 40 }, id: 1 }, { box: { w: 30, h: 30 }, id: 2 }, { box: { w: 5, h: 5 }, id: 3 }];
    expect(largestFace(faces)?.id).toBe(2);
    expect(largestFace([])).toBeUndefined();
  });
});

describe('test-time views', () => {
  it('scaleAbout zooms about the crop centre after the transform', () => {
    const t = { a: 0.8, b: 0.3, tx: 5, ty: -7 };
    const z = scaleAbout(t, 1.1);
    const centreSource = applySimilarity(invertSimilarity(t), 75, 75);
    const [cx, cy] = applySimilarity(z, centreSource[0], centreSource[1]);
    expect(cx).toBeCloseTo(75, 9);
    expect(cy).toBeCloseTo(75, 9);
    const [px, py] = applySimilarity(t, 10, 20);
    const [qx, qy] = applySimilarity(z, 10, 20);
    expect(qx - 75).toBeCloseTo(1.1 * (px - 75), 9);
    expect(qy - 75).toBeCloseTo(1.1 * (py - 75), 9);
  });

  it('alignFaceViews: the first view is the template crop, the others zoomed', () => {
    const img = { data: new Uint8Array(200 * 200 * 3), width: 200, height: 200 };
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 7919) % 251;
    const landmarks = [70, 80, 130, 82, 100, 115, 75, 140, 125, 141];
    const { crops, transform } = alignFaceViews(img, 'bgr', landmarks, [1, 0.9]);
    expect(crops).toHaveLength(2);
    expect(Buffer.from(crops[0]).equals(Buffer.from(alignFace(img, 'bgr', landmarks).crop))).toBe(true);
    expect(Buffer.from(crops[1]).equals(Buffer.from(warpToCrop(img, 'bgr', scaleAbout(transform, 0.9))))).toBe(true);
    expect(Buffer.from(crops[1]).equals(Buffer.from(crops[0]))).toBe(false);
    expect(() => alignFaceViews(img, 'bgr', landmarks, [])).toThrow(AlignmentError);
  });
});
