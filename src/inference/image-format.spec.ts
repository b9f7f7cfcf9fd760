import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { acceptedFormat, describeFormats, FRAME_FORMATS, sniffImageFormat, STILL_FORMATS } from './image-format';

const pixels = () => sharp({ create: { width: 16, height: 12, channels: 3, background: { r: 200, g: 100, b: 50 } } });

describe('image-format: one rule for the images the server opens', () => {
  it('sniffs what sharp encodes, by magic bytes', async () => {
    expect(sniffImageFormat(await pixels().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await pixels().png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await pixels().webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await pixels().tiff().toBuffer())).toBe('tiff');
    expect(sniffImageFormat(await pixels().tiff({ compression: 'lzw' }).toBuffer())).toBe('tiff');
    expect(sniffImageFormat(await pixels().gif().toBuffer())).toBe('gif');
    if (sharp.format.heif.output.buffer) expect(sniffImageFormat(await pixels().avif().toBuffer())).toBe('heif');
  });

  it('refuses documents and unknown bytes before any decoder runs', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(sniffImageFormat(svg)).toBeNull();
    expect(sniffImageFormat(Buffer.from('%PDF-1.7\n'))).toBeNull();
    expect(sniffImageFormat(Buffer.from('BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00', 'latin1'))).toBeNull();
    expect(sniffImageFormat(Buffer.from('hello'))).toBeNull();
    expect(sniffImageFormat(Buffer.alloc(0))).toBeNull();
    // an ISO-BMFF file that is a video, not AVIF
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1')]);
    expect(sniffImageFormat(mp4)).toBeNull();
  });

  it('uploads take every still format this sharp decodes; frames stay what a browser encodes', () => {
    for (const f of ['jpeg', 'png', 'webp', 'tiff', 'gif'] as const) expect(STILL_FORMATS.has(f)).toBe(true);
    for (const f of STILL_FORMATS) expect((sharp.format as unknown as Record<string, { input: { buffer: boolean } }>)[f].input.buffer).toBe(true);
    expect([...FRAME_FORMATS].sort()).toEqual(['jpeg', 'png', 'webp']);
    expect(describeFormats(FRAME_FORMATS)).toBe('JPEG, WebP or PNG');
    expect(describeFormats(STILL_FORMATS)).toMatch(/^JPEG, PNG, WebP, TIFF, GIF/);
  });

  it('acceptedFormat applies a subset', async () => {
    const tiff = await pixels().tiff().toBuffer();
    expect(acceptedFormat(tiff, STILL_FORMATS)).toBe('tiff');
    expect(acceptedFormat(tiff, FRAME_FORMATS)).toBeNull();
  });
});
