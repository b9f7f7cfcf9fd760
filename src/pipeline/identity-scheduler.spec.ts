import { describe, expect, it } from 'vitest';
import { DEFAULT_FACE_QUALITY } from '../inference/embedding/face-quality';
import { DEFAULT_IDENTITY_SCHEDULE, IdentityScheduler, IdentitySchedulerOptions } from './identity-scheduler';

/** A frontal face: eyes level 40 px apart, nose centred below them. */
const FRONTAL = [80, 100, 120, 100, 100, 125, 85, 150, 115, 150];
const box = (side = 100, x = 50) => ({ x, y: 50, w: side, h: side * 1.2 });
const emb = () => new Float32Array(128);

function setup(over: Partial<IdentitySchedulerOptions> = {}) {
  let t = 0;
  const s = new IdentityScheduler({ ...DEFAULT_IDENTITY_SCHEDULE, ...over }, () => t);
  return { s, advance: (ms: number) => (t += ms) };
}
const planned = (s: IdentityScheduler, cams: string[]) => s.plan(cams).keys.flat();
const user = (userId: string | null) => ({ userId, distance: 0.1, margin: 1 });

describe('IdentityScheduler', () => {
  it('asks for a new track on its first good frames, then only after the re-check interval', () => {
    const { s, advance } = setup();
    s.observe('c:1', box(), FRONTAL);
    expect(planned(s, ['c'])).toEqual(['c:1']);
    expect(planned(s, ['c'])).toEqual([]); // pending until its batch settles
    s.settle(['c:1']);
    s.record('c:1', emb(), 100);
    s.decide('c:1', user('ann'), 0);
    advance(40);
    expect(planned(s, ['c'])).toEqual(['c:1']); // second of the first frames
    s.settle(['c:1']);
    s.record('c:1', emb(), 100);
    s.decide('c:1', user('ann'), 0);
    advance(500);
    expect(planned(s, ['c'])).toEqual([]);
    advance(500);
    expect(planned(s, ['c'])).toEqual(['c:1']);
  });

  it('doubles the interval while the answer holds (up to the maximum) and resets it when the answer changes', () => {
    const { s, advance } = setup({ firstFrames: 1, recheckMs: 1000, maxRecheckMs: 4000 });
    s.observe('c:1', box(), FRONTAL);
    const check = (u: string | null) => {
      expect(planned(s, ['c'])).toEqual(['c:1']);
      s.settle(['c:1']);
      s.record('c:1', emb(), 100);
      s.decide('c:1', user(u), 0);
    };
    const waitsFor = (ms: number) => {
      advance(ms - 1);
      expect(planned(s, ['c'])).toEqual([]);
      advance(1);
    };
    check('ann');
    waitsFor(1000);
    check('ann'); // same answer: 2000 next
    waitsFor(2000);
    check('ann');
    waitsFor(4000);
    check('ann');
    waitsFor(4000); // capped
    check('bob'); // changed its mind: back to 1000
    waitsFor(1000);
    check('bob');
  });

  it('re-checks early when the face grew much larger, but not more often than minGapMs', () => {
    const { s, advance } = setup({ firstFrames: 1, minGapMs: 250, growth: 1.5 });
    s.observe('c:1', box(60), FRONTAL);
    planned(s, ['c']);
    s.settle(['c:1']);
    s.record('c:1', emb(), 60);
    s.decide('c:1', user(null), 0);
    s.observe('c:1', box(100), FRONTAL);
    advance(100);
    expect(planned(s, ['c'])).toEqual([]);
    advance(150);
    expect(planned(s, ['c'])).toEqual(['c:1']);
  });

  it('never asks for a face too small or turned away (checked from its last detection)', () => {
    const { s } = setup();
    s.observe('c:1', box(DEFAULT_FACE_QUALITY.minSide - 1), FRONTAL);
    const profile = [...FRONTAL];
    profile[4] = 118; // nose near the left eye: a half-profile
    s.observe('c:2', box(), profile);
    expect(planned(s, ['c'])).toEqual([]);
    s.observe('c:1', box(80), FRONTAL);
    expect(planned(s, ['c'])).toEqual(['c:1']);
  });

  it('embeds at most maxPerBatch faces per batch, tracks without a decision first, and counts the rest as deferred', () => {
    const { s, advance } = setup({ firstFrames: 1, maxPerBatch: 2 });
    s.observe('a:1', box(), FRONTAL);
    const first = s.plan(['a']);
    s.settle(first.keys.flat());
    s.record('a:1', emb(), 100);
    s.decide('a:1', user('ann'), 0);
    advance(5000); // a:1 is overdue now
    for (const c of ['b', 'c', 'd']) s.observe(`${c}:1`, box(), FRONTAL);
    const p = s.plan(['a', 'b', 'c', 'd']);
    expect(p.keys.flat()).toHaveLength(2);
    expect(p.keys.flat()).not.toContain('a:1');
    expect(p.deferred).toBe(2);
    // boxes travel per frame, in batch order
    p.keys.forEach((keys, i) => keys.forEach((k) => expect(k.startsWith(['a', 'b', 'c', 'd'][i])).toBe(true)));
    expect(p.boxes.map((b) => b.length)).toEqual(p.keys.map((k) => k.length));
  });

  it('only plans tracks of cameras that have a frame in the batch; forgets left tracks and removed cameras', () => {
    const { s } = setup();
    s.observe('a:1', box(), FRONTAL);
    s.observe('b:1', box(), FRONTAL);
    expect(planned(s, ['b'])).toEqual(['b:1']);
    s.forget('b:1');
    s.forgetCamera('a');
    expect(s.size).toBe(0);
    expect(planned(s, ['a', 'b'])).toEqual([]);
  });

  it('keeps the last `keep` embeddings, and a decision goes stale when the gallery version changes', () => {
    const { s } = setup({ keep: 3 });
    s.observe('c:1', box(), FRONTAL);
    expect(s.stale('c:1', 0, false)).toBe(false); // nothing to decide from yet
    for (let i = 0; i < 5; i++) s.record('c:1', emb(), 100);
    expect(s.embeddings('c:1')).toHaveLength(3);
    expect(s.stale('c:1', 0, false)).toBe(true);
    s.decide('c:1', user('ann'), 0);
    expect(s.stale('c:1', 0, false)).toBe(false);
    expect(s.stale('c:1', 1, false)).toBe(true);
    expect(s.stale('c:1', 0, true)).toBe(true);
    expect(s.decision('c:1')?.userId).toBe('ann');
  });
});

describe('IdentityScheduler over several inference workers', () => {
  it('partOf follows splitEven: [a,b,c,d,e] in 2 -> [a,b,c] [d,e]', async () => {
    const { partOf } = await import('./identity-scheduler');
    const { splitEven } = await import('../inference/pool/inference.pool');
    for (const n of [1, 2, 3, 5, 8, 9]) {
      for (const parts of [1, 2, 3, 4]) {
        const k = Math.min(parts, n);
        const chunks = splitEven(Array.from({ length: n }, (_, i) => i), k);
        chunks.forEach((c, p) => c.forEach((i) => expect(partOf(i, n, k)).toBe(p)));
      }
    }
  });

  it("spreads the batch's faces over the workers' parts: no part gets more than its share", () => {
    const { s } = setup({ firstFrames: 1, maxPerBatch: 2 });
    const cams = ['a', 'b', 'c', 'd'];
    for (const c of ['a', 'b']) s.observe(`${c}:1`, box(), FRONTAL); // both due tracks sit in the first worker's half
    const p = s.plan(cams, 2);
    expect(p.keys.flat()).toHaveLength(1);
    expect(p.deferred).toBe(1);
    s.observe('d:1', box(), FRONTAL);
    s.settle(p.keys.flat());
    const q = s.plan(cams, 2);
    expect(q.keys.flat()).toHaveLength(2); // one in each half
    expect(q.keys[3]).toEqual(['d:1']);
  });
});

describe('IdentityScheduler budget', () => {
  it('embeds a burst of new faces at once, then one face per framesPerEmbedding processed frames', () => {
    const { s, advance } = setup({ firstFrames: 1, maxPerBatch: 8, burst: 3, framesPerEmbedding: 10 });
    const cams = ['a', 'b', 'c', 'd', 'e'];
    cams.forEach((c) => s.observe(`${c}:1`, box(), FRONTAL));
    const first = s.plan(cams);
    expect(first.keys.flat()).toHaveLength(3); // the saved burst
    expect(first.deferred).toBe(2);
    s.settle(first.keys.flat());
    first.keys.flat().forEach((k) => s.record(k, emb(), 100));
    // 5 frames per batch earn half an embedding: the two waiting faces get one every second batch
    const taken: number[] = [];
    for (let i = 0; i < 4; i++) {
      advance(10);
      const p = s.plan(cams);
      s.settle(p.keys.flat());
      p.keys.flat().forEach((k) => s.record(k, emb(), 100));
      taken.push(p.keys.flat().length);
    }
    expect(taken).toEqual([0, 1, 0, 1]); // the burst was spent to the last credit
  });
});
