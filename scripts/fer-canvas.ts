/**
 * How a 48x48 FER-2013-style face is shown to YuNet: a face that fills its crop is not found, so it is enlarged and
 * centred on a mid-gray canvas (scripts/align-fer.ts and scripts/bench/level-eyes-readback.ts).
 */
import sharp from 'sharp';
import { INPUT_SIZE } from '../src/inference/preprocess';

/** The face is enlarged this much and centred on a FER_CANVAS-sided square, the detector's letterbox side. */
const ENLARGE = 3;
export const FER_CANVAS = 256;

/** The canvas YuNet sees: the face enlarged (bilinear) and centred on mid-gray, packed BGR. */
export async function ferCanvas(face: Uint8Array): Promise<Uint8Array> {
  const side = INPUT_SIZE * ENLARGE;
  // sharp hands a one-channel raw input back as three channels after a resize: read its own channel count
  const { data: big, info } = await sharp(Buffer.from(face), { raw: { width: INPUT_SIZE, height: INPUT_SIZE, channels: 1 } })
    .resize(side, side, { kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(FER_CANVAS * FER_CANVAS * 3).fill(128);
  const o = (FER_CANVAS - side) / 2;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = big[(y * side + x) * info.channels];
      const p = ((y + o) * FER_CANVAS + x + o) * 3;
      out[p] = v;
      out[p + 1] = v;
      out[p + 2] = v;
    }
  }
  return out;
}
