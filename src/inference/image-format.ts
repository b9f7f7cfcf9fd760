import sharp from 'sharp';

/**
 * The one rule for which encoded images the server opens. Bytes are sniffed by magic number before any decoder runs
 * (a client's file name or Content-Type is not trusted), and sharp's own metadata must agree.
 *
 * - Still photos (sample uploads): every raster still format this sharp build decodes from memory, so calibration
 *   sets that ship TIFF (JAFFE) or GIF upload as they are. Multi-frame files (GIF, animated WebP, multi-page TIFF)
 *   give their first frame. SVG and PDF are never opened: they are documents, not photos (SVG can reference other
 *   files). BMP needs ImageMagick, which sharp's prebuilt libvips does not include.
 * - Live frames (browser cameras): what a browser's canvas encodes, JPEG, WebP or PNG.
 */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'heif' | 'jp2' | 'jxl';

const NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  tiff: 'TIFF',
  gif: 'GIF',
  heif: 'AVIF',
  jp2: 'JPEG 2000',
  jxl: 'JPEG XL',
};

/** ISO-BMFF brands that mean AVIF (AV1 in HEIF); HEIC (HEVC) brands are decodable only where libvips has libde265. */
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);

/** Which container the bytes are, from magic numbers only; null for anything else (text, SVG, PDF, BMP, …). */
export function sniffImageFormat(buf: Uint8Array): ImageFormat | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  // little-endian "II*\0" / big-endian "MM\0*", and BigTIFF (43)
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)))) return 'tiff';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) return 'gif';
  if (b.length >= 12 && b.toString('latin1', 4, 8) === 'ftyp') {
    const brands = ftypBrands(b);
    if (brands.some((x) => AVIF_BRANDS.has(x) || (HEIC_BRANDS.has(x) && heicDecodable()))) return 'heif';
    return null;
  }
  if (b.length >= 12 && b.readUInt32BE(0) === 0x0c && b.toString('latin1', 4, 8) === 'jP  ') return 'jp2';
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) return 'jp2'; // raw codestream
  if (b.length >= 12 && b.readUInt32BE(0) === 0x0c && b.toString('latin1', 4, 8) === 'JXL ') return 'jxl';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) return 'jxl'; // raw codestream
  return null;
}

/** Major and compatible brands of a leading `ftyp` box (bounded by the box size and the buffer). */
function ftypBrands(b: Buffer): string[] {
  const end = Math.min(b.readUInt32BE(0), b.length, 256);
  const out = [b.toString('latin1', 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) out.push(b.toString('latin1', i, i + 4));
  return out;
}

function heicDecodable(): boolean {
  return (sharp.format.heif?.input.fileSuffix ?? []).includes('.heic');
}

const CANDIDATES: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif', 'jp2', 'jxl'];

/** Still formats this sharp build can decode from a buffer (read once: the build does not change at run time). */
export const STILL_FORMATS: ReadonlySet<ImageFormat> = new Set(
  CANDIDATES.filter((f) => (sharp.format as unknown as Record<string, { input?: { buffer?: boolean } } | undefined>)[f]?.input?.buffer === true),
);

/** Browser camera frames: what `canvas.toBlob` produces. */
export const FRAME_FORMATS: ReadonlySet<ImageFormat> = new Set<ImageFormat>(['jpeg', 'webp', 'png']);

/** "JPEG, PNG, WebP, TIFF, GIF or AVIF", for error messages and docs. */
export function describeFormats(formats: ReadonlySet<ImageFormat>): string {
  const names = [...formats].map((f) => NAMES[f]);
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** The bytes' format if it is one of `accepted`, else null. */
export function acceptedFormat(buf: Uint8Array, accepted: ReadonlySet<ImageFormat>): ImageFormat | null {
  const f = sniffImageFormat(buf);
  return f && accepted.has(f) ? f : null;
}
