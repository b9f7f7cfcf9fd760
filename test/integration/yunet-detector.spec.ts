import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D6, decodeBgrFrames, hasD6, noD6Reason } from '../support/video';
import { OrtSessionFactory } from '../../src/inference/ort.sessions';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { MODELS } from '../support/paths';

const MODEL = resolve(MODELS, 'face-detection/yunet_s_dynamic.onnx');

describe.skipIf(!hasD6)('YunetDetector on real frames', () => {
  let detector: YunetDetector;
  beforeAll(async () => {
    if (!existsSync(MODEL)) throw new Error(`model missing: ${MODEL}`);
    const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1 });
    detector = new YunetDetector(await factory.create(MODEL), { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 });
  });
  afterAll(() => detector?.release());

  it(`finds exactly one face with a sane box in d6.mp4, batched with a letterboxed non-square copy`, async () => {
    const { width, height, frames } = decodeBgrFrames(D6, { start: 5, count: 1 });
    const frame = { data: frames[0], width, height };
    // The same picture padded to 640x480 (face shifted right by 80 px): both go through ONE session.run.
    const wide = Buffer.alloc(640 * 480 * 3);
    for (let y = 0; y < 480; y++) frames[0].copy(wide, (y * 640 + 80) * 3, y * width * 3, (y + 1) * width * 3);
    const [a, b] = await detector.detect([frame, { data: wide, width: 640, height: 480 }]);
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    const box = a[0].box;
    expect(a[0].score).toBeGreaterThan(0.8);
    // a face in a 480x480 portrait clip: between 15% and 80% of the frame, inside it, roughly square
    expect(box.w).toBeGreaterThan(0.15 * width);
    expect(box.w).toBeLessThan(0.8 * width);
    expect(box.h / box.w).toBeGreaterThan(0.8);
    expect(box.h / box.w).toBeLessThan(1.8);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.w).toBeLessThanOrEqual(width);
    // landmarks: both eyes above the nose, nose above the mouth, all inside the box
    const [rex, rey, lex, ley, nx, ny, , my] = a[0].landmarks;
    expect(rex).toBeLessThan(lex);
    expect(Math.max(rey, ley)).toBeLessThan(ny);
    expect(ny).toBeLessThan(my);
    expect(nx).toBeGreaterThan(box.x);
    expect(nx).toBeLessThan(box.x + box.w);
    // mapping back to source pixels: the shifted copy's box is the same box moved by 80 px (letterbox scale differs)
    // (detector noise at the other scale is a few % of the box; a mapping bug would be tens of %)
    const tol = 0.06 * box.w;
    expect(Math.abs(b[0].box.x + b[0].box.w / 2 - 80 - (box.x + box.w / 2))).toBeLessThan(tol);
    expect(Math.abs(b[0].box.y + b[0].box.h / 2 - (box.y + box.h / 2))).toBeLessThan(tol);
    expect(Math.abs(b[0].box.w - box.w)).toBeLessThan(tol);
  });

  it('finds nothing in a black frame', async () => {
    const [none] = await detector.detect([{ data: new Uint8Array(480 * 480 * 3), width: 480, height: 480 }]);
    expect(none).toEqual([]);
  });
});

if (!hasD6) describe('YunetDetector on real frames', () => it.skip(noD6Reason, () => undefined));
