import { describe, expect, it } from 'vitest';
import { FaceTracker } from './face-tracker';
import { ScoreSmoother } from './score-smoother';

const box = (x: number, y = 100, s = 100) => ({ x, y, w: s, h: s });

describe('FaceTracker', () => {
  it('keeps ids stable across frames while faces move, in any detection order', () => {
    const t = new FaceTracker({ iouThreshold: 0.3, graceFrames: 2 });
    const first = t.update([box(0), box(300)]);
    expect(first.trackIds).toEqual([1, 2]);
    expect(first.entered).toEqual([1, 2]);
    const second = t.update([box(310), box(10)]); // order swapped, both moved 10 px
    expect(second.trackIds).toEqual([2, 1]);
    expect(second.entered).toEqual([]);
    expect(second.left).toEqual([]);
  });

  it('follows a fast move by centroid when the boxes no longer overlap enough', () => {
    const t = new FaceTracker({ iouThreshold: 0.3, graceFrames: 2 });
    t.update([box(0)]);
    const moved = t.update([box(45)]); // IoU = 55/145 < 0.3... centroid distance 45 <= 50
    expect(moved.trackIds).toEqual([1]);
    const far = t.update([box(400)]);
    expect(far.trackIds).toEqual([2]);
    expect(far.entered).toEqual([2]);
  });

  it('gives a new face a new id and never reuses ids', () => {
    const t = new FaceTracker({ iouThreshold: 0.3, graceFrames: 0 });
    t.update([box(0)]);
    const a = t.update([box(0), box(300)]);
    expect(a.trackIds).toEqual([1, 2]);
    expect(a.entered).toEqual([2]);
    t.update([]); // both leave (grace 0)
    expect(t.update([box(0)]).trackIds).toEqual([3]);
  });

  it('lets a face leave only after the grace period, and a face back within grace keeps its id', () => {
    const t = new FaceTracker({ iouThreshold: 0.3, graceFrames: 2 });
    t.update([box(0)]);
    expect(t.update([]).left).toEqual([]);
    expect(t.update([]).left).toEqual([]);
    expect(t.update([box(5)]).trackIds).toEqual([1]); // back after 2 missed frames
    t.update([]);
    t.update([]);
    expect(t.update([]).left).toEqual([1]); // third miss
    expect(t.openTrackIds).toEqual([]);
  });
});

describe('ScoreSmoother', () => {
  it('blends with the previous value per track, sums stay 1, and 0 turns it off', () => {
    const s = new ScoreSmoother(0.5);
    expect([...s.apply('a:1', [1, 0])]).toEqual([1, 0]);
    const second = s.apply('a:1', [0, 1]);
    expect([...second]).toEqual([0.5, 0.5]);
    expect([...s.apply('a:2', [0, 1])]).toEqual([0, 1]); // other track untouched
    s.forget('a:1');
    expect([...s.apply('a:1', [0, 1])]).toEqual([0, 1]);
    const off = new ScoreSmoother(0);
    off.apply('x', [1, 0]);
    expect([...off.apply('x', [0, 1])]).toEqual([0, 1]);
    expect(off.size).toBe(0);
    const p = new ScoreSmoother(0.8);
    let v: Float32Array = new Float32Array(7);
    for (let i = 0; i < 5; i++) v = p.apply('t', Array.from({ length: 7 }, (_, k) => (k === i ? 0.7 : 0.05)));
    expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
});
