/**
 * Sample uploads take every still format sharp decodes (inference/image-format.ts) on the real server: a TIFF made here
 * by sharp (runs from a bare clone), and real JAFFE TIFFs from ../shared when present (the calibration set that ships
 * TIFF). Documents and non-images get a typed 415 `unsupported_image` and store nothing.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STILL_FORMATS } from '../../src/inference/image-format';
import { startRealApp, RealApp } from '../support/app';
import { JAFFE } from '../support/paths';

const jaffeHappy = existsSync(JAFFE) ? join(JAFFE, 'KA', 'calibration', 'happy') : '';
if (!jaffeHappy || !existsSync(jaffeHappy)) console.warn(`skipping the JAFFE TIFF upload: ${JAFFE} is absent (datasets live in ../shared)`);

describe('sample uploads: still formats', () => {
  let server: RealApp;
  let userId: string;
  const upload = (image: Buffer, name: string, label = 'happy') =>
    request(server.url).post(`/api/users/${userId}/samples`).field('label', label).attach('image', image, name);
  const stored = () => {
    const dir = join(server.dataDir, 'samples', userId);
    return existsSync(dir) ? readdirSync(dir).length : 0;
  };

  beforeAll(async () => {
    server = await startRealApp({ HOST: '127.0.0.1' });
    userId = ((await request(server.url).post('/api/users').send({ name: 'Formats' }).expect(201)).body as { id: string }).id;
  });
  afterAll(async () => {
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('a TIFF, GIF (and AVIF where sharp has it) is decoded and searched for a face, not refused', async () => {
    // a gray card with no face: reaching `no_face` proves the image was accepted, decoded and run through the detector
    const card = () => sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 90 } } });
    const images: [string, Buffer][] = [
      ['card.tiff', await card().tiff().toBuffer()],
      ['card-lzw.tif', await card().tiff({ compression: 'lzw' }).toBuffer()],
      ['card.gif', await card().gif().toBuffer()],
    ];
    if (STILL_FORMATS.has('heif')) images.push(['card.avif', await card().avif().toBuffer()]);
    for (const [name, bytes] of images) {
      const res = await upload(bytes, name);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(422);
      expect(res.body.error, name).toBe('no_face');
    }
    expect(stored()).toBe(0);
  });

  it('non-images and documents get a typed 415 naming the accepted formats', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="320" height="240"/></svg>');
    const bmp = Buffer.alloc(54 + 4 * 4 * 3);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(4, 18);
    bmp.writeInt32LE(4, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    for (const [name, bytes] of [['x.svg', svg], ['x.bmp', bmp], ['x.pdf', Buffer.from('%PDF-1.7\n%…')], ['x.txt', Buffer.from('not an image')]] as const) {
      const res = await upload(bytes, name);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(415);
      expect(res.body.error).toBe('unsupported_image');
      expect(res.body.message).toContain('JPEG, PNG, WebP, TIFF, GIF');
    }
    // TIFF magic with nothing readable behind it: accepted format, undecodable content
    const broken = await upload(Buffer.concat([Buffer.from('II*\0', 'latin1'), Buffer.alloc(64, 0xee)]), 'broken.tiff');
    expect(broken.status, JSON.stringify(broken.body)).toBe(400);
    expect(broken.body.error).toBe('bad_message');
    expect(stored()).toBe(0);
  });

  it.skipIf(!jaffeHappy || !existsSync(jaffeHappy))('a real JAFFE TIFF (8-bit grayscale) is stored as a sample; the same face as GIF too', async () => {
    const file = readdirSync(jaffeHappy).find((f) => /\.tiff?$/i.test(f));
    expect(file, `no TIFF in ${jaffeHappy}`).toBeDefined();
    const raw = readFileSync(join(jaffeHappy, file!));
    expect(raw.subarray(0, 4).toString('latin1')).toMatch(/^(II\*\0|MM\0\*)$/);
    const res = await upload(raw, file!);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ userId, label: 'happy', source: 'upload', counts: { happy: 1 } });
    expect(res.body.box.w).toBeGreaterThan(48);
    const gif = await upload(await sharp(raw).gif().toBuffer(), 'same.gif', 'sad');
    expect(gif.status, JSON.stringify(gif.body)).toBe(201);
    expect(stored()).toBe(2);
  });
});
