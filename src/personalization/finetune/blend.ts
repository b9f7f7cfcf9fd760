import { softmaxInPlace } from '../../inference/labels';
import { CLASSES } from '../../inference/heads/head-shape';

/**
 * "Never worse than general" (docs/PERSONALIZATION.md): a personal model scores a face with
 *   p = w · softmax(personal logits) + (1 − w) · softmax(general logits),
 * w chosen per user at fine-tune time by cross-validation over the user's own samples. w = 1 is the personal head
 * alone (every model stored before the blend existed), w = 0 the general head.
 */
export const BLEND_WEIGHTS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

export interface BlendChoice {
  /** the chosen weight of the personal head */
  weight: number;
  /** held-out faces the choice was made on */
  faces: number;
  /** faces right with the general head (w = 0), the personal head (w = 1) and the chosen blend */
  general: number;
  personal: number;
  blended: number;
}

/** Faces whose argmax of w·personal + (1−w)·general (probabilities, n x CLASSES) equals their label. */
export function blendCorrect(general: Float32Array, personal: Float32Array, labels: readonly number[], w: number): number {
  let ok = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    let bestP = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      const p = w * personal[r * CLASSES + c] + (1 - w) * general[r * CLASSES + c];
      if (p > bestP) [best, bestP] = [c, p];
    }
    if (best === labels[r]) ok++;
  }
  return ok;
}

/** Mean log-probability of the true label under the blend (the proper score that decides between equally accurate w). */
export function blendLogLikelihood(general: Float32Array, personal: Float32Array, labels: readonly number[], w: number): number {
  let sum = 0;
  for (let r = 0; r < labels.length; r++) {
    const i = r * CLASSES + labels[r];
    sum += Math.log(Math.max(1e-12, w * personal[i] + (1 - w) * general[i]));
  }
  return labels.length ? sum / labels.length : 0;
}

/**
 * The blend weight with the most held-out faces right; among those, the one with the highest mean log-probability of
 * the true labels (how far to trust the personal head when both are right as often); an exact tie goes to the smaller
 * weight (toward the general model). So a personal head that loses faces on the held-out samples gets less weight or
 * none. No held-out faces: w = 0 (nothing shows it helps). `general`, `personal`: probabilities (n x CLASSES).
 */
export function chooseBlendWeight(general: Float32Array, personal: Float32Array, labels: readonly number[]): BlendChoice {
  const n = labels.length;
  if (general.length < n * CLASSES || personal.length < n * CLASSES) throw new Error(`blend: ${n} faces need ${n * CLASSES} probabilities per head`);
  let best = { weight: 0, correct: -1, ll: -Infinity };
  for (const w of BLEND_WEIGHTS) {
    const correct = blendCorrect(general, personal, labels, w);
    const ll = blendLogLikelihood(general, personal, labels, w);
    // strictly better only: exact ties stay with the smaller w
    if (correct > best.correct || (correct === best.correct && ll > best.ll + 1e-9)) best = { weight: w, correct, ll };
  }
  return {
    weight: n ? best.weight : 0,
    faces: n,
    general: blendCorrect(general, personal, labels, 0),
    personal: blendCorrect(general, personal, labels, 1),
    blended: Math.max(0, best.correct),
  };
}

/** Logits (n x CLASSES) -> probabilities, in a new array. */
export function probabilities(logits: Float32Array, n: number): Float32Array {
  return softmaxInPlace(Float32Array.from(logits.subarray(0, n * CLASSES)), n);
}

/**
 * The blend as logits: log(w·softmax(personal) + (1−w)·softmax(general)), so whoever applies a softmax afterwards (the
 * pipeline does) gets exactly the blended probabilities. w = 1 returns the personal logits as they are.
 */
export function blendLogits(general: Float32Array, personal: Float32Array, n: number, w: number): Float32Array {
  if (w >= 1) return personal;
  const g = probabilities(general, n);
  const p = probabilities(personal, n);
  const out = new Float32Array(n * CLASSES);
  for (let i = 0; i < out.length; i++) out[i] = Math.log(Math.max(1e-30, w * p[i] + (1 - w) * g[i]));
  return out;
}

/**
 * The per-face gate (docs/PERSONALIZATION.md, "A per-face gate"): a face the general head gives probability >= tau
 * keeps the general head's scores; every other face gets `served` (the personal head, or its blend). Subjects whose
 * calibration photos do not look like their later faces lose faces the general head was sure of; no rule over the
 * calibration faces can see that, the general head's own confidence can. tau >= 1 turns the gate off (returns
 * `served` itself). Rows are n x CLASSES logits; the result is a new array unless nothing changes.
 */
export function gateLogits(general: Float32Array, served: Float32Array, n: number, tau: number): Float32Array {
  if (tau >= 1) return served;
  const g = probabilities(general, n);
  let out: Float32Array | null = null;
  for (let r = 0; r < n; r++) {
    let top = 0;
    for (let c = 0; c < CLASSES; c++) top = Math.max(top, g[r * CLASSES + c]);
    if (top < tau) continue;
    out ??= Float32Array.from(served.subarray(0, n * CLASSES));
    out.set(general.subarray(r * CLASSES, (r + 1) * CLASSES), r * CLASSES);
  }
  return out ?? served;
}
