import { delay, map, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchLatestPerKey } from './batch-latest';

/** Items are "<camera><n>", e.g. a1 = camera a, frame 1. */
const cam = (s: string) => s[0];

function setup() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('batchLatestPerKey', () => {
  it('batches by size: a full batch goes at once, without waiting for the timeout', () => {
    setup().run(({ cold, expectObservable }) => {
      const src = cold('a b c d', { a: 'a1', b: 'b1', c: 'c1', d: 'd1' });
      const out = src.pipe(batchLatestPerKey({ key: cam, maxBatch: 2, timeoutMs: 100 }, (b) => of(b.join('+'))));
      expectObservable(out).toBe('-x-y', { x: 'a1+b1', y: 'c1+d1' }); // a@0 b@1 c@2 d@3
    });
  });

  it('batches by timeout: a partial batch waits timeoutMs for the oldest item, then goes', () => {
    setup().run(({ cold, expectObservable }) => {
      const src = cold('a 9ms b', { a: 'a1', b: 'b1' });
      const out = src.pipe(batchLatestPerKey({ key: cam, maxBatch: 4, timeoutMs: 20 }, (b) => of(b.join('+'))));
      expectObservable(out).toBe('20ms x', { x: 'a1+b1' });
    });
  });

  it('latest wins per camera while busy, drops are counted, and the next batch starts when the busy one ends', () => {
    setup().run(({ cold, expectObservable, flush }) => {
      const dropped: string[] = [];
      // a1 starts a 10 ms batch at once (size 1); a2, a3, b1 arrive while busy: a2 is replaced by a3
      const src = cold('a 2ms b 2ms c 2ms d', { a: 'a1', b: 'a2', c: 'a3', d: 'b1' });
      const out = src.pipe(
        batchLatestPerKey(
          { key: cam, maxBatch: 4, timeoutMs: 0, onDrop: (x) => dropped.push(x) },
          (b) => of(b.join('+')).pipe(delay(10)),
        ),
      );
      // batch 1 (a1) ends at 10; then a3+b1 (a waited first, so it comes first) ends at 20
      expectObservable(out).toBe('10ms x 9ms y', { x: 'a1', y: 'a3+b1' });
      flush();
      expect(dropped).toEqual(['a2']);
    });
  });

  it('serves cameras oldest-waiting first when there are more cameras than the batch holds', () => {
    setup().run(({ cold, expectObservable }) => {
      const src = cold('(abc)', { a: 'a1', b: 'b1', c: 'c1' });
      const out = src.pipe(
        batchLatestPerKey({ key: cam, maxBatch: 2, timeoutMs: 1 }, (b) => of(b.join('+')).pipe(delay(5))),
      );
      expectObservable(out).toBe('5ms x 4ms y', { x: 'a1+b1', y: 'c1' });
    });
  });

  it('counts exactly the replaced frames (one camera flooding while busy)', () => {
    setup().run(({ cold, expectObservable, flush }) => {
      const dropped: string[] = [];
      const src = cold('a b c 2ms d e|', { a: 'a1', b: 'a2', c: 'a3', d: 'a4', e: 'a5' });
      const out = src.pipe(
        batchLatestPerKey({ key: cam, maxBatch: 1, timeoutMs: 0, onDrop: (x) => dropped.push(x) }, (b) =>
          of(b[0]).pipe(delay(4)),
        ),
      );
      // a1 runs 0..4 while a2 (1), a3 (2) arrive: a2 dropped; a3 runs 4..8 while a4 (5), a5 (6) arrive: a4 dropped;
      // the source completes at 7; a5 runs 8..12, then the output completes
      expectObservable(out).toBe('4ms x 3ms y 3ms (z|)', { x: 'a1', y: 'a3', z: 'a5' });
      flush();
      expect(dropped).toEqual(['a2', 'a4']);
    });
  });

  it('keeps going after a batch whose processor caught its own error', () => {
    setup().run(({ cold, expectObservable }) => {
      const src = cold('a 4ms b', { a: 'a1', b: 'a2' });
      const out = src.pipe(
        batchLatestPerKey({ key: cam, maxBatch: 1, timeoutMs: 0 }, (b) =>
          of(b[0]).pipe(map((x) => (x === 'a1' ? 'failed' : x))),
        ),
      );
      expectObservable(out).toBe('x 4ms y', { x: 'failed', y: 'a2' });
    });
  });

  it('with concurrency 2 starts a second batch while the first is still running', () => {
    setup().run(({ cold, expectObservable }) => {
      const src = cold('a 2ms b', { a: 'a1', b: 'b1' });
      const out = src.pipe(
        batchLatestPerKey({ key: cam, maxBatch: 4, timeoutMs: 0, concurrency: 2 }, (b) => of(b.join('+')).pipe(delay(10))),
      );
      // a1 runs 0..10, b1 starts at 3 (not at 10) and ends at 13
      expectObservable(out).toBe('10ms x 2ms y', { x: 'a1', y: 'b1' });
    });
  });
});
