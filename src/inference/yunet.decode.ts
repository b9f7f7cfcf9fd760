import { Box } from '../contracts/geometry';
import type { TensorData } from './ort.sessions';

export const YUNET_STRIDES = [8, 16, 32] as const;

/** One face: box and 5 landmarks (right eye, left eye, nose, right mouth corner, left mouth corner) as x,y pairs. */
export interface Detection {
  box: Box;
  score: number;
  landmarks: number[];
}

export interface DecodeOptions {
  /** Input side the outputs were computed for (square letterbox). */
  size: number;
  scoreThreshold: number;
  nmsIou: number;
  /** Keep at most this many candidates before NMS (highest scores). */
  topK?: number;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Decode YuNet's anchor-free outputs for image `b` of a batch (same arithmetic as OpenCV's FaceDetectorYN):
 * per stride s and cell (row r, col c): score = sqrt(cls*obj); centre = ((c,r) + d) * s; size = exp(dwh) * s.
 * Coordinates are in detector-input pixels.
 */
export function decodeYunet(outputs: Record<string, TensorData>, b: number, opts: DecodeOptions): Detection[] {
  const candidates: Detection[] = [];
  for (const s of YUNET_STRIDES) {
    const cls = outputs[`cls_${s}`];
    const obj = outputs[`obj_${s}`];
    const bbox = outputs[`bbox_${s}`];
    const kps = outputs[`kps_${s}`];
    if (!cls || !obj || !bbox || !kps) throw new Error(`YuNet output for stride ${s} missing`);
    const cols = Math.ceil(opts.size / s);
    const n = cls.dims[1];
    const base = b * n;
    for (let i = 0; i < n; i++) {
      const score = Math.sqrt(clamp01(cls.data[base + i]) * clamp01(obj.data[base + i]));
      if (score < opts.scoreThreshold) continue;
      const r = Math.floor(i / cols);
      const c = i - r * cols;
      const q = (base + i) * 4;
      const cx = (c + bbox.data[q]) * s;
      const cy = (r + bbox.data[q + 1]) * s;
      const w = Math.exp(bbox.data[q + 2]) * s;
      const h = Math.exp(bbox.data[q + 3]) * s;
      const k = (base + i) * 10;
      const landmarks: number[] = [];
      for (let j = 0; j < 5; j++) landmarks.push((kps.data[k + 2 * j] + c) * s, (kps.data[k + 2 * j + 1] + r) * s);
      candidates.push({ box: { x: cx - w / 2, y: cy - h / 2, w, h }, score, landmarks });
    }
  }
  candidates.sort((a, z) => z.score - a.score);
  return nms(candidates.slice(0, opts.topK ?? 100), opts.nmsIou);
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.w, b.x + b.w);
  const y1 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy non-maximum suppression; `sorted` must be by descending score. */
export function nms(sorted: Detection[], threshold: number): Detection[] {
  const kept: Detection[] = [];
  for (const d of sorted) if (kept.every((k) => iou(k.box, d.box) <= threshold)) kept.push(d);
  return kept;
}
