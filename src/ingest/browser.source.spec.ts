import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Frame } from '../contracts/frames';
import { BrowserSource, decodeToBgr, PushOutcome } from './browser.source';
import { ManualClock } from './testing/fakes';

/** A w×h image filled with one RGB colour. */
const solid = (w: number, h: number, rgb: [number, number, number], format: 'jpeg' | 'png' | 'webp' = 'png') => {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  const encoded = format === 'jpeg' ? img.jpeg({ quality: 100 }) : format === 'webp' ? img.webp({ lossless: true }) : img.png();
  return encoded.toBuffer();
};

const LIMITS = { maxBytes: 2 * 1024 * 1024, maxPixels: 4096 * 4096, maxSide: 640 };

function source(clock = new ManualClock(), fps = 1000) {
  const s = new BrowserSource({ cameraId: 'b1', fps, clock, ...LIMITS });
  const frames: Frame[] = [];
  s.frames$.subscribe((f) => frames.push(f));
  return { s, frames, clock };
}

describe('decodeToBgr', () => {
  it('decodes PNG, JPEG and WebP to packed BGR24 (R and B swapped from sharp’s RGB)', async () => {
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const out = await decodeToBgr(await solid(8, 6, [200, 100, 10], format), LIMITS);
      expect([out.width, out.height, out.data.length]).toEqual([8, 6, 8 * 6 * 3]);
      const [b, g, r] = out.data;
      expect(Math.abs(b - 10)).toBeLessThan(6);
      expect(Math.abs(g - 100)).toBeLessThan(6);
      expect(Math.abs(r - 200)).toBeLessThan(6);
    }
  });

  it('downscales to maxSide, never up', async () => {
    expect(await decodeToBgr(await solid(1280, 720, [0, 0, 0]), LIMITS)).toMatchObject({ width: 640, height: 360 });
    expect(await decodeToBgr(await solid(100, 50, [0, 0, 0]), LIMITS)).toMatchObject({ width: 100, height: 50 });
  });

  it('rejects a decompression bomb from its header, before decoding', async () => {
    // 10000x10000 of one colour compresses to a few KB but would decode to 300 MB.
    const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(LIMITS.maxBytes);
    const t0 = Date.now();
    await expect(decodeToBgr(bomb, LIMITS)).rejects.toMatchObject({ code: 'too_large', message: expect.stringMatching(/pixel/) });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('rejects oversize input, other formats and truncated images with typed errors', async () => {
    await expect(decodeToBgr(Buffer.alloc(3 * 1024 * 1024, 0xff), LIMITS)).rejects.toMatchObject({ code: 'too_large' });
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    await expect(decodeToBgr(gif, LIMITS)).rejects.toMatchObject({ code: 'bad_message' });
    await expect(decodeToBgr(Buffer.from('hello'), LIMITS)).rejects.toMatchObject({ code: 'bad_message' });
    const jpeg = await solid(64, 64, [1, 2, 3], 'jpeg');
    await expect(decodeToBgr(jpeg.subarray(0, 40), LIMITS)).rejects.toMatchObject({ code: 'bad_message' });
  });
});

describe('BrowserSource', () => {
  it('emits frames with increasing ids and goes streaming', async () => {
    const { s, frames } = source();
    expect(s.state).toBe('connecting');
    const img = await solid(32, 16, [0, 255, 0], 'jpeg');
    expect(await s.push(img)).toMatchObject({ status: 'decoded', frameId: 0 });
    expect(s.state).toBe('streaming');
    expect(frames.map((f) => [f.cameraId, f.frameId, f.width, f.height])).toEqual([['b1', 0, 32, 16]]);
  });

  it('counts a bad frame and keeps streaming', async () => {
    const { s, frames, clock } = source();
    const bad = await s.push(Buffer.from('not an image'));
    expect(bad).toMatchObject({ status: 'rejected', error: { code: 'bad_message' } });
    await clock.advance(10);
    expect(await s.push(await solid(8, 8, [1, 1, 1]))).toMatchObject({ status: 'decoded' });
    expect(frames).toHaveLength(1);
    expect(s.counters).toMatchObject({ received: 2, rejected: 1, decoded: 1 });
  });

  it('keeps only the latest frame while a decode is busy (the replaced one is dropped and counted)', async () => {
    const { s, frames } = source(new ManualClock(), Infinity);
    const imgs = await Promise.all([1, 2, 3, 4].map((v) => solid(16, 16, [v * 40, 0, 0])));
    const results: PushOutcome[] = await Promise.all(imgs.map((b) => s.push(b)));
    expect(results.map((r) => r.status)).toEqual(['decoded', 'dropped', 'dropped', 'decoded']);
    expect(s.counters.droppedBusy).toBe(2);
    expect(frames).toHaveLength(2);
    // the second frame decoded is the last one pushed (red 160 → BGR byte 2)
    expect(frames[1].data[2]).toBeGreaterThan(150);
  });

  it('drops frames pushed faster than its fps', async () => {
    const { s, clock } = source(new ManualClock(), 10);
    const img = await solid(8, 8, [0, 0, 0]);
    expect((await s.push(img)).status).toBe('decoded');
    await clock.advance(20);
    expect(await s.push(img)).toEqual({ status: 'dropped', why: 'rate' });
    await clock.advance(100);
    expect((await s.push(img)).status).toBe('decoded');
    expect(s.counters.droppedRate).toBe(1);
  });

  it('rejects pushes after close', async () => {
    const { s } = source();
    s.close();
    expect(s.state).toBe('stopped');
    expect(await s.push(await solid(8, 8, [0, 0, 0]))).toMatchObject({ status: 'rejected', error: { code: 'not_found' } });
  });
});
