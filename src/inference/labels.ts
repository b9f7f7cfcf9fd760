import { LABEL_NAMES, type ScoresByLabel } from '../contracts/labels';

/** Row `offset` of the model's output as one probability per label (LABEL_NAMES order). */
export function toScores(probs: ArrayLike<number>, offset = 0): ScoresByLabel {
  const s = {} as ScoresByLabel;
  LABEL_NAMES.forEach((l, i) => (s[l] = probs[offset + i]));
  return s;
}

export function softmaxInPlace(v: Float32Array, rows: number, cols: number = LABEL_NAMES.length): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, v[o + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += v[o + c] = Math.exp(v[o + c] - m);
    for (let c = 0; c < cols; c++) v[o + c] /= sum;
  }
  return v;
}
