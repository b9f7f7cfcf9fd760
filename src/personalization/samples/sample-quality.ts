import type { Box } from '../../contracts/geometry';

/** Why a calibration crop is not kept (the `reason` of a rejected calibration.sample). */
export type QualityReason = 'blurred' | 'too_small' | 'duplicate';

export interface QualityOptions {
  /** Shorter side of the detector box, source pixels, below which a face is too small to teach anything. */
  minFacePixels: number;
  /**
   * Variance of the 4-neighbour Laplacian of the large gray crop (≤ 96x96) below which it is blurred.
   * Measured on 96x96 crops of d6.mp4 / d0.mp4 frames (26 faces): 211-473; the same crops after a 5x5 box blur:
   * 11-27.
   */
  minSharpness: number;
  /** Mean absolute difference (grey levels, 0-255) of two 48x48 crops below which the second is a duplicate. */
  minDifference: number;
}

export const DEFAULT_QUALITY: QualityOptions = { minFacePixels: 48, minSharpness: 60, minDifference: 2 };

/** Variance of the discrete Laplacian over the interior pixels: low = few edges = blurred (Pech-Pacheco et al.). */
export function laplacianVariance(data: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = data[i - 1] + data[i + 1] + data[i - width] + data[i + width] - 4 * data[i];
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

export function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
}

export interface CropCandidate {
  box: Box;
  crop48: Uint8Array;
  cropLarge?: { data: Uint8Array; width: number; height: number };
}

/** The first reason this crop should not be kept, or null. `previous` is the last accepted crop48 of the same label. */
export function checkQuality(c: CropCandidate, previous: Uint8Array | null, o: QualityOptions = DEFAULT_QUALITY): QualityReason | null {
  if (Math.min(c.box.w, c.box.h) < o.minFacePixels) return 'too_small';
  const sharp = c.cropLarge ? laplacianVariance(c.cropLarge.data, c.cropLarge.width, c.cropLarge.height) : laplacianVariance(c.crop48, 48, 48);
  if (sharp < o.minSharpness) return 'blurred';
  if (previous && meanAbsDifference(c.crop48, previous) < o.minDifference) return 'duplicate';
  return null;
}
