import { describe, expect, it } from 'vitest';
import { evaluatePredictions, formatReport } from './metrics';

describe('evaluatePredictions', () => {
  it('computes hand-checked figures on a tiny case', () => {
    // truth:     angry angry angry happy happy sad
    // predicted: angry angry happy happy sad   sad
    const r = evaluatePredictions([0, 0, 0, 3, 3, 4], [0, 0, 3, 3, 4, 4]);
    expect(r.count).toBe(6);
    expect(r.accuracy).toBeCloseTo(4 / 6);
    expect(r.perClass.angry).toEqual({ precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    expect(r.perClass.happy.precision).toBeCloseTo(0.5);
    expect(r.perClass.happy.recall).toBeCloseTo(0.5);
    expect(r.perClass.sad.precision).toBeCloseTo(0.5);
    expect(r.perClass.sad.recall).toBe(1);
    expect(r.perClass.sad.f1).toBeCloseTo(2 / 3);
    expect(r.perClass.disgust).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(r.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 7);
    expect(r.confusion[0]).toEqual([2, 0, 0, 1, 0, 0, 0]);
    expect(r.confusion[3]).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(r.labels[1]).toBe('disgust');
  });

  it('formats a readable table', () => {
    const text = formatReport(evaluatePredictions([0, 1], [0, 0]));
    expect(text).toContain('accuracy 50.0%');
    expect(text).toMatch(/angry\s+50\.0%\s+100\.0%/);
    expect(text).toContain('confusion (rows = true label, columns = predicted)');
  });

  it('rejects mismatched lengths', () => {
    expect(() => evaluatePredictions([0], [])).toThrow(/differ in length/);
  });
});
