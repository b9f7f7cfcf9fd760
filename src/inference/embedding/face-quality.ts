/**
 * Is this frame of a face good enough to identify? Size (shorter side of the detector box), pose (frontal enough, from
 * YuNet's 5 landmarks) and sharpness (variance of the Laplacian of the aligned crop). Pure TypeScript over raw buffers:
 * runs in the inference workers beside the alignment. Thresholds: docs/IDENTITY.md "Live recognition".
 */
import type { Box } from '../../contracts/geometry';
import { ALIGNED_SIZE } from './face-align';

export interface FaceQualityOptions {
  /** Shorter side of the detector box, source pixels. Below ~40 px the 150 px chip is an upscaled blur. */
  minSide: number;
  /** Largest |nose offset along the eye line| / eye distance: 0 frontal, ~0.5 at a half-profile. */
  maxYaw: number;
  /** Smallest variance of the 4-neighbour Laplacian of the aligned crop's gray centre (motion blur, out of focus). */
  minSharpness: number;
}

export const DEFAULT_FACE_QUALITY: FaceQualityOptions = { minSide: 40, maxYaw: 0.3, minSharpness: 20 };

export type QualityRejection = 'small' | 'pose' | 'blurred';

/** Yaw proxy from YuNet's landmarks (right eye, left eye, nose, ...): the nose tip's offset from the eyes' midpoint
 * along the eye line, over the eye distance. Infinity for degenerate landmarks. */
export function yawOf(landmarks: readonly number[]): number {
  const [rx, ry, lx, ly, nx, ny] = landmarks;
  const ex = lx - rx;
  const ey = ly - ry;
  const iod = Math.hypot(ex, ey);
  if (!(iod > 1e-6) || ![rx, ry, lx, ly, nx, ny].every(Number.isFinite)) return Infinity;
  const mx = (rx + lx) / 2;
  const my = (ry + ly) / 2;
  return Math.abs(((nx - mx) * ex + (ny - my) * ey) / iod) / iod;
}

/** The checks that need no pixels (size, pose): the pipeline applies them before asking for an embedding too. */
export function geometryRejection(box: Box, landmarks: readonly number[], q: FaceQualityOptions = DEFAULT_FACE_QUALITY): QualityRejection | null {
  if (Math.min(box.w, box.h) < q.minSide) return 'small';
  if (!(yawOf(landmarks) <= q.maxYaw)) return 'pose';
  return null;
}

/** Variance of the 4-neighbour Laplacian over the central 2/3 of an aligned RGB crop (gray = mean of the channels). */
export function sharpness(crop: Uint8Array, size = ALIGNED_SIZE): number {
  const lo = Math.floor(size / 6);
  const hi = size - lo;
  const g = (x: number, y: number) => {
    const o = (y * size + x) * 3;
    return (crop[o] + crop[o + 1] + crop[o + 2]) / 3;
  };
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let y = lo; y < hi; y++) {
    for (let x = lo; x < hi; x++) {
      const v = g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1) - 4 * g(x, y);
      sum += v;
      sq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}
