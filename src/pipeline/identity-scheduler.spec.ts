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
/** A pipeline that always has a batch in flight (load → 1): the busy regime (back-off, frame budget). */
const busy = (s: IdentityScheduler, advance: (ms: number) => void) => {
  s.batchStarted();
  advance(10_000);
  expect(s.quiet).toBe(false);
};
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
    busy(s, advance); // the back-off is the busy regime's (a quiet pipeline re-checks every recheckMs)
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
    expect(s.stale('c:1', 0)).toBe(false); // nothing to decide from yet
    for (let i = 0; i < 5; i++) s.record('c:1', emb(), 100);
    expect(s.embeddings('c:1')).toHaveLength(3);
    expect(s.stale('c:1', 0)).toBe(true);
    s.decide('c:1', user('ann'), 0);
    expect(s.stale('c:1', 0)).toBe(false);
    expect(s.stale('c:1', 1)).toBe(true);
    s.record('c:1', emb(), 100); // a new embedding: decided again at the next frame
    expect(s.stale('c:1', 0)).toBe(true);
    expect(s.decision('c:1')?.userId).toBe('ann');
  });

  it('a face whose views went to the embedder stays pending past its batch, until its embedding arrives', () => {
    const { s, advance } = setup({ firstFrames: 2 });
    s.observe('c:1', box(), FRONTAL);
    expect(planned(s, ['c'])).toEqual(['c:1']);
    const token = s.dispatched('c:1');
    s.settle(['c:1']); // the batch ended; the embedding has not come back
    advance(40);
    expect(planned(s, ['c'])).toEqual([]);
    expect(s.embedded('c:1', token, emb(), 100)).toBe(true);
    expect(s.embeddings('c:1')).toHaveLength(1);
    expect(s.stale('c:1', 0)).toBe(true);
    expect(planned(s, ['c'])).toEqual(['c:1']); // second of the first frames
    // a failed embedding run frees the track too, with nothing recorded
    const again = s.dispatched('c:1');
    s.settle(['c:1']);
    expect(s.embedded('c:1', again, null, 100)).toBe(false);
    expect(s.embeddings('c:1')).toHaveLength(1);
    expect(planned(s, ['c'])).toEqual(['c:1']);
  });

  it('drops an embedding that arrives after its track left, even when a new track took the same key', () => {
    const { s } = setup();
    s.observe('c:1', box(), FRONTAL);
    planned(s, ['c']);
    const token = s.dispatched('c:1');
    s.forgetCamera('c'); // camera removed and added again: its track ids start over
    s.observe('c:1', box(), FRONTAL);
    expect(s.embedded('c:1', token, emb(), 100)).toBe(false);
    expect(s.embeddings('c:1')).toHaveLength(0);
  });

  it('asks for no more than maxOutstanding faces while earlier ones are still at the embedder', () => {
    const { s } = setup({ maxOutstanding: 3, maxPerBatch: 8 });
    for (let i = 1; i <= 6; i++) s.observe(`c${i}:1`, box(), FRONTAL);
    const cams = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const first = s.plan(cams);
    expect(first.keys.flat()).toHaveLength(3);
    expect(first.deferred).toBe(3);
    const tokens = first.keys.flat().map((k) => [k, s.dispatched(k)] as const);
    s.settle(first.keys.flat());
    expect(s.plan(cams).keys.flat()).toEqual([]); // all three still in flight
    s.embedded(tokens[0][0], tokens[0][1], emb(), 100);
    expect(s.plan(cams).keys.flat()).toHaveLength(1);
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
    busy(s, advance);
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

describe('IdentityScheduler: quiet and busy pipelines (measured load)', () => {
  /**
   * Simulates the pipeline: every `periodMs` a batch of `cams` (one frame each) starts, takes `batchMs`, its asked
   * faces come back embedded (the same answer every time); returns when each embedding was made.
   */
  function run(s: IdentityScheduler, advance: (ms: number) => number, cams: string[], o: { periodMs: number; batchMs: number; forMs: number }) {
    const at: { t: number; key: string }[] = [];
    for (let elapsed = 0; elapsed < o.forMs; elapsed += Math.max(o.periodMs, o.batchMs)) {
      s.batchStarted();
      const keys = s.plan(cams, 1).keys.flat();
      const t = advance(o.batchMs);
      for (const k of keys) {
        s.record(k, emb(), 100);
        s.decide(k, user('ann'), 0);
        at.push({ t, key: k });
      }
      s.settle(keys);
      s.batchEnded();
      if (o.periodMs > o.batchMs) advance(o.periodMs - o.batchMs);
    }
    return at;
  }

  it('quiet (one 5 fps camera): a settled track is re-checked about once per recheckMs, beyond the frame budget', () => {
    const { s, advance } = setup({ recheckMs: 1000 });
    s.observe('c:1', box(), FRONTAL);
    const at = run(s, advance, ['c'], { periodMs: 200, batchMs: 40, forMs: 30_000 });
    expect(s.load).toBeLessThan(0.3); // measured: 40 ms in flight every 200 ms
    expect(s.quiet).toBe(true);
    // once quiet (the load starts at 1: ~1 s), every ~1 s: 25 ± 2 in the last 25 s, never two within 1 s
    const late = at.filter((e) => e.t > 5_000);
    expect(late.length).toBeGreaterThanOrEqual(23);
    expect(late.length).toBeLessThanOrEqual(26);
    for (let i = 1; i < late.length; i++) expect(late[i].t - late[i - 1].t).toBeGreaterThanOrEqual(1000);
    // 150 frames in 30 s earn 1 embedding: the budget alone (8 saved + 1) would have stopped at 9
    expect(at.length).toBeGreaterThan(DEFAULT_IDENTITY_SCHEDULE.burst + 150 / DEFAULT_IDENTITY_SCHEDULE.framesPerEmbedding);
  });

  it('busy (8 cameras back to back): capped by the frame budget, with the back-off', () => {
    const { s, advance } = setup({ recheckMs: 1000 });
    const cams = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    cams.forEach((c) => s.observe(`${c}:1`, box(), FRONTAL));
    const at = run(s, advance, cams, { periodMs: 100, batchMs: 100, forMs: 60_000 });
    expect(s.quiet).toBe(false);
    const frames = (60_000 / 100) * cams.length;
    const cap = DEFAULT_IDENTITY_SCHEDULE.burst + frames / DEFAULT_IDENTITY_SCHEDULE.framesPerEmbedding;
    expect(at.length).toBeLessThanOrEqual(cap); // 8 + 32
    expect(at.length).toBeGreaterThanOrEqual(cap - 2); // and the budget is used (every track is due)
    // a quiet schedule would have re-checked the 8 tracks every second: ~480
  });

  it('falls back to the budget within a few load windows when a quiet pipeline becomes busy, and back when it calms down', () => {
    const { s, advance } = setup({ recheckMs: 1000, loadWindowMs: 2000 });
    const cams = ['a', 'b', 'c', 'd'];
    cams.forEach((c) => s.observe(`${c}:1`, box(), FRONTAL));
    run(s, advance, cams, { periodMs: 1000, batchMs: 50, forMs: 10_000 });
    expect(s.quiet).toBe(true);
    const busyAt = run(s, advance, cams, { periodMs: 50, batchMs: 50, forMs: 30_000 });
    expect(s.quiet).toBe(false);
    const start = busyAt.length ? busyAt[0].t : 0;
    // after 3 s of back-to-back batches (load > 0.7 after ~2.4 s), only the budget: 20 s × 80 frames/s / 150 + 8 saved
    const late = busyAt.filter((e) => e.t > start + 10_000);
    expect(late.length).toBeLessThanOrEqual(8 + (20_000 / 50) * cams.length / 150);
    run(s, advance, cams, { periodMs: 1000, batchMs: 50, forMs: 10_000 });
    expect(s.quiet).toBe(true);
  });

  it('rematch: decides every track with embeddings again from them (no new embedding), the gallery version with it', () => {
    const { s, advance } = setup({ firstFrames: 1, recheckMs: 1000, maxRecheckMs: 8000 });
    busy(s, advance);
    s.observe('c:1', box(), FRONTAL);
    s.observe('c:2', box(100, 300), FRONTAL);
    planned(s, ['c']);
    s.settle(['c:1', 'c:2']);
    const e = emb();
    e[0] = 1;
    s.record('c:1', e, 100); // c:2 was not embedded yet
    s.decide('c:1', user(null), 0);
    const seen: (readonly Float32Array[])[] = [];
    const recognizer = { version: 1, match: (p: readonly Float32Array[]) => (seen.push(p), user('cy')) };
    expect(s.rematch(recognizer)).toEqual(['c:1']);
    expect(seen).toEqual([[e]]);
    expect(s.embeddings('c:1')).toHaveLength(1);
    expect(s.decision('c:1')?.userId).toBe('cy');
    expect(s.stale('c:1', 1)).toBe(false); // decided under version 1: its next frame does not decide it again
    expect(s.decision('c:2')).toBeNull();
  });
});
