import { Box } from '../contracts/geometry';
import { levellingAngle, rotatedSquare } from './level-eyes';
import { areaResize, INPUT_SIZE, toGray } from './preprocess';
import type { BgrImage } from './yunet.detector';

/**
 * How a detector box becomes the classifier's square crop. FER-2013 faces are roughly square, from brows to chin,
 * a little wider than YuNet's box; `scale` multiplies the longer side of the box, `shiftY` moves the centre down by
 * that fraction of the side. The defaults were picked by scripts/crop-variants.ts (docs/PIPELINE.md).
 */
export interface CropRule {
  /** Which side of the box the square's side is based on (YuNet boxes are taller than wide: brow to chin). */
  basis: 'max' | 'width' | 'mean';
  scale: number;
  shiftY: number;
  /**
   * Rotate the square about its centre until the eyes are level (issue 17's aligned faces: only for a model trained
   * on levelled faces, scripts/align-fer.ts). Needs the detector's landmarks; without them the crop is not rotated.
   */
  levelEyes?: boolean;
}
export const DEFAULT_CROP: CropRule = { basis: 'mean', scale: 0.9, shiftY: 0.05 };

/** Integer square region of the frame for a face, kept inside the frame (shifted if it fits, else clipped). */
export function cropRegion(box: Box, width: number, height: number, rule: CropRule = DEFAULT_CROP): Box {
  const base = rule.basis === 'width' ? box.w : rule.basis === 'mean' ? (box.w + box.h) / 2 : Math.max(box.w, box.h);
  const side = base * rule.scale;
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2 + rule.shiftY * side;
  let x0 = Math.round(cx - side / 2);
  let y0 = Math.round(cy - side / 2);
  const s = Math.max(1, Math.round(side));
  if (s <= width) x0 = Math.min(Math.max(0, x0), width - s);
  if (s <= height) y0 = Math.min(Math.max(0, y0), height - s);
  const x1 = Math.min(width, x0 + s);
  const y1 = Math.min(height, y0 + s);
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  return { x: x0, y: y0, w: Math.max(1, x1 - x0), h: Math.max(1, y1 - y0) };
}

/** The grayscale pixels of a region of a BGR frame, full resolution (the lead's luma rule from preprocess.ts). */
export function grayRegion(image: BgrImage, r: Box): Uint8Array {
  const packed = new Uint8Array(r.w * r.h * 3);
  const stride = image.width * 3;
  for (let y = 0; y < r.h; y++) {
    const from = (r.y + y) * stride + r.x * 3;
    packed.set(image.data.subarray(from, from + r.w * 3), y * r.w * 3);
  }
  return toGray(packed, r.w, r.h, 'bgr');
}

export interface FaceCrop {
  region: Box;
  /** 48x48 uint8 gray: the classifier input before /255. */
  crop48: Uint8Array;
  /** Larger gray crop (side `largeSide`) for sharpness checks; only when asked for. */
  cropLarge?: { data: Uint8Array; width: number; height: number };
}

/** Largest side a levelled crop is resampled at before the area resize to 48 (4x the input, as scripts/crop-variants.ts). */
const LEVEL_WARP_SIDE = INPUT_SIZE * 4;

/**
 * The crop's square (cropRegion's centre and side) rotated by levellingAngle(landmarks), as a gray square of side
 * min(LEVEL_WARP_SIDE, the region's side). Only the frame area the rotated square can reach is converted to gray.
 * With level eyes and a square region of at most LEVEL_WARP_SIDE pixels it is the plain crop's pixels exactly.
 */
function levelledGray(image: BgrImage, region: Box, landmarks: readonly number[]): { gray: Uint8Array; side: number } {
  const side = Math.max(region.w, region.h);
  const cx = region.x + region.w / 2;
  const cy = region.y + region.h / 2;
  const reach = Math.ceil((side * Math.SQRT2) / 2) + 1;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const around = { x: x0, y: y0, w: Math.min(image.width, Math.ceil(cx + reach)) - x0, h: Math.min(image.height, Math.ceil(cy + reach)) - y0 };
  const out = Math.max(1, Math.min(LEVEL_WARP_SIDE, Math.round(side)));
  const gray = rotatedSquare(grayRegion(image, around), around.w, around.h, { cx: cx - x0, cy: cy - y0, side }, levellingAngle(landmarks), out);
  return { gray, side: out };
}

export function cropFace(image: BgrImage, box: Box, rule: CropRule = DEFAULT_CROP, largeSide = 0, landmarks?: readonly number[]): FaceCrop {
  const region = cropRegion(box, image.width, image.height, rule);
  if (rule.levelEyes && landmarks && landmarks.length >= 4) {
    const { gray, side } = levelledGray(image, region, landmarks);
    const crop48 = areaResize(gray, side, side, INPUT_SIZE, INPUT_SIZE);
    if (largeSide <= 0) return { region, crop48 };
    const s = Math.min(largeSide, side);
    return { region, crop48, cropLarge: { data: areaResize(gray, side, side, s, s), width: s, height: s } };
  }
  const gray = grayRegion(image, region);
  const crop48 = areaResize(gray, region.w, region.h, INPUT_SIZE, INPUT_SIZE);
  if (largeSide <= 0) return { region, crop48 };
  const side = Math.min(largeSide, region.w, region.h);
  return { region, crop48, cropLarge: { data: areaResize(gray, region.w, region.h, side, side), width: side, height: side } };
}
