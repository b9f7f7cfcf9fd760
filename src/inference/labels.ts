/** FER-2013 label order: the model's output index i is LABELS[i]. */
export const LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type Label = (typeof LABELS)[number];
export type Scores = Record<Label, number>;

export function toScores(probs: ArrayLike<number>, offset = 0): Scores {
  const s = {} as Scores;
  LABELS.forEach((l, i) => (s[l] = probs[offset + i]));
  return s;
}

export function softmaxInPlace(v: Float32Array, rows: number, cols: number = LABELS.length): Float32Array {
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
