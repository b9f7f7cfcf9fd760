import { describe, expect, it } from 'vitest';
import { BLEND_WEIGHTS, blendCorrect, blendLogLikelihood, blendLogits, chooseBlendWeight, gateLogits, probabilities } from './blend';

/** n x 7 probabilities: each row puts `top` on one class and spreads the rest evenly. */
function probs(classes: number[], top = 0.7): Float32Array {
  const out = new Float32Array(classes.length * 7).fill((1 - top) / 6);
  classes.forEach((c, r) => (out[r * 7 + c] = top));
  return out;
}

describe('chooseBlendWeight', () => {
  it('offers 0, 0.1, ..., 1', () => {
    expect(BLEND_WEIGHTS).toHaveLength(11);
    expect(BLEND_WEIGHTS[0]).toBe(0);
    expect(BLEND_WEIGHTS[10]).toBe(1);
  });

  it('keeps the general model (w = 0) when the personal head is never better', () => {
    const labels = [0, 1, 2, 3];
    const general = probs([0, 1, 2, 3]);
    const personal = probs([0, 1, 5, 5]); // two wrong
    const c = chooseBlendWeight(general, personal, labels);
    expect(c).toMatchObject({ weight: 0, faces: 4, general: 4, personal: 2, blended: 4 });
  });

  it('exact ties go toward the general model: both heads give the same probabilities -> 0', () => {
    const labels = [3, 4, 6];
    expect(chooseBlendWeight(probs(labels), probs(labels), labels).weight).toBe(0);
  });

  it('among equally accurate weights takes the most likely one', () => {
    // both heads right on both faces; general surer of face 0, personal of face 1: log-likelihood peaks at w = 0.5
    const labels = [0, 1];
    const general = new Float32Array([...probs([0], 0.9), ...probs([1], 0.5)]);
    const personal = new Float32Array([...probs([0], 0.5), ...probs([1], 0.9)]);
    const c = chooseBlendWeight(general, personal, labels);
    expect(c).toMatchObject({ weight: 0.5, general: 2, personal: 2, blended: 2 });
    expect(blendLogLikelihood(general, personal, labels, 0.5)).toBeGreaterThan(blendLogLikelihood(general, personal, labels, 0.4));
  });

  it('accuracy comes first: a weight that loses a face is never chosen for its likelihood', () => {
    // general wrong on face 0 (says 6 at 0.4 vs 0.1 for the label); personal right (label 0 at 0.9)
    const labels = [0, 1];
    const general = new Float32Array(14).fill(0.1);
    general[6] = 0.4;
    general.fill(0, 7, 14);
    general[7 + 1] = 1; // face 1: right, certain
    const personal = probs([0, 1], 0.9);
    // face 0 right only when w*0.9 + (1-w)*0.1 > w*(0.1/6) + (1-w)*0.4, i.e. w >= 0.3
    expect(blendCorrect(general, personal, labels, 0.2)).toBe(1);
    const c = chooseBlendWeight(general, personal, labels);
    expect(c.weight).toBeGreaterThanOrEqual(0.3);
    expect(c).toMatchObject({ general: 1, personal: 2, blended: 2 });
  });

  it('a personal head that loses a face gets only the weight that keeps it right, however sure it is', () => {
    const labels = [0, 1, 2];
    const general = probs([0, 1, 2], 0.4);
    const personal = probs([0, 1, 5], 0.99);
    const c = chooseBlendWeight(general, personal, labels);
    expect(c).toMatchObject({ general: 3, personal: 2, blended: 3 });
    expect(c.weight).toBeLessThan(0.5);
    expect(blendCorrect(general, personal, labels, c.weight + 0.1)).toBe(2); // the most weight that keeps face 2
  });

  it('chooses w = 1 only when the personal head alone beats every blend', () => {
    // face 0: general strongly wrong (class 6 at 0.99), personal right but barely (label 0.30 vs 0.29 for class 6)
    const labels = [0];
    const general = new Float32Array(7).fill(0.01 / 6);
    general[6] = 0.99;
    const personal = new Float32Array([0.3, 0.1, 0.1, 0.1, 0.1, 0.01, 0.29]);
    expect(chooseBlendWeight(general, personal, labels).weight).toBe(1);
  });

  it('without held-out faces stays with the general model', () => {
    expect(chooseBlendWeight(new Float32Array(0), new Float32Array(0), [])).toMatchObject({ weight: 0, faces: 0, blended: 0 });
  });

  it('refuses probabilities of the wrong size', () => {
    expect(() => chooseBlendWeight(new Float32Array(7), new Float32Array(14), [0, 1])).toThrow(/2 faces need 14/);
  });
});

describe('blendLogits', () => {
  const general = new Float32Array([2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0]);
  const personal = new Float32Array([0, 1, 0, 0, 0, 0, 4, 1, 1, 1, 1, 1, 1, 1]);

  it('softmax of the blend = w·softmax(personal) + (1−w)·softmax(general)', () => {
    const w = 0.4;
    const got = probabilities(blendLogits(general, personal, 2, w), 2);
    const g = probabilities(general, 2);
    const p = probabilities(personal, 2);
    for (let i = 0; i < 14; i++) expect(got[i]).toBeCloseTo(w * p[i] + (1 - w) * g[i], 6);
  });

  it('w = 1 is the personal head as it is, w = 0 the general head', () => {
    expect(blendLogits(general, personal, 2, 1)).toBe(personal);
    const g0 = probabilities(blendLogits(general, personal, 2, 0), 2);
    const g = probabilities(general, 2);
    for (let i = 0; i < 14; i++) expect(g0[i]).toBeCloseTo(g[i], 6);
  });
});

describe('gateLogits', () => {
  // row 0: general sure of class 0 (softmax ~0.99); row 1: general unsure (~0.53 on class 3)
  const general = new Float32Array([8, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1.9, 0, 0, 0]);
  const personal = new Float32Array([0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0]);

  it('keeps the general scores of a face the general head is at least tau sure of, the personal ones elsewhere', () => {
    const sure = probabilities(general, 2)[0];
    expect(sure).toBeGreaterThan(0.98);
    const got = gateLogits(general, personal, 2, 0.98);
    expect([...got.subarray(0, 7)]).toEqual([...general.subarray(0, 7)]);
    expect([...got.subarray(7, 14)]).toEqual([...personal.subarray(7, 14)]);
    expect([...personal.subarray(0, 7)]).toEqual([0, 5, 0, 0, 0, 0, 0]); // the input is not written to
  });

  it('a face just under tau keeps the personal scores; tau >= 1 turns the gate off', () => {
    const sure = probabilities(general, 2)[0];
    expect(gateLogits(general, personal, 2, Math.fround(sure) + 1e-6)).toBe(personal);
    expect(gateLogits(general, personal, 2, 1)).toBe(personal);
    expect(gateLogits(general, personal, 2, 0.5)[7 + 3]).toBeCloseTo(1.9, 6); // 0.53 >= 0.5: row 1 general too
  });
});
