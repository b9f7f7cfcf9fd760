/** Classification metrics over the 7 FER labels: accuracy, per-class precision/recall/F1/support, macro-F1, confusion. */
import { LABEL_NAMES, LabelName } from '../contracts/labels';

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvaluationReport {
  accuracy: number;
  macroF1: number;
  count: number;
  perClass: Record<LabelName, ClassMetrics>;
  /** confusion[true][predicted] */
  confusion: number[][];
  labels: LabelName[];
}

export function evaluatePredictions(truth: ArrayLike<number>, predicted: ArrayLike<number>): EvaluationReport {
  if (truth.length !== predicted.length) throw new Error('truth and predictions differ in length');
  const k = LABEL_NAMES.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]][predicted[i]]++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass = {} as Record<LabelName, ClassMetrics>;
  let f1Sum = 0;
  LABEL_NAMES.forEach((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predictedC ? tp / predictedC : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    f1Sum += f1;
  });
  return {
    accuracy: truth.length ? correct / truth.length : 0,
    macroF1: f1Sum / k,
    count: truth.length,
    perClass,
    confusion,
    labels: [...LABEL_NAMES],
  };
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(7);

/** A terminal report: headline figures, per-class table, confusion matrix (rows = truth, columns = predicted). */
export function formatReport(r: EvaluationReport): string {
  const out: string[] = [];
  out.push(`accuracy ${pct(r.accuracy).trim()}   macro-F1 ${r.macroF1.toFixed(3)}   images ${r.count}`);
  out.push('');
  out.push(`${'class'.padEnd(10)}${'precision'.padStart(10)}${'recall'.padStart(9)}${'F1'.padStart(8)}${'support'.padStart(9)}`);
  for (const l of r.labels) {
    const m = r.perClass[l];
    out.push(`${l.padEnd(10)}${pct(m.precision).padStart(10)}${pct(m.recall).padStart(9)}${m.f1.toFixed(3).padStart(8)}${String(m.support).padStart(9)}`);
  }
  out.push('');
  out.push('confusion (rows = true label, columns = predicted)');
  out.push(' '.repeat(10) + r.labels.map((l) => l.slice(0, 7).padStart(8)).join(''));
  r.confusion.forEach((row, i) => out.push(r.labels[i].padEnd(10) + row.map((v) => String(v).padStart(8)).join('')));
  return out.join('\n');
}
