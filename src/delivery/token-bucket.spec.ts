import { describe, expect, it } from 'vitest';
import { CameraSet } from './camera-set';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    let t = 0;
    const b = new TokenBucket(10, 5, () => t);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    t += 100; // 0.1 s at 10/s = 1 token
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    t += 10_000; // refills only up to the burst
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });
  it('takes weighted amounts (bytes)', () => {
    let t = 0;
    const b = new TokenBucket(1000, 1000, () => t);
    expect(b.take(800)).toBe(true);
    expect(b.take(300)).toBe(false);
    t += 100;
    expect(b.take(300)).toBe(true);
  });
});

describe('CameraSet', () => {
  it('ids, all, all-but, and clearing', () => {
    const s = new CameraSet();
    expect(s.has('a')).toBe(false);
    s.add(['a', 'b']);
    expect([s.has('a'), s.has('b'), s.has('c')]).toEqual([true, true, false]);
    s.delete(['a']);
    expect(s.has('a')).toBe(false);
    s.add('*');
    expect(s.has('zzz')).toBe(true);
    s.delete(['zzz']);
    expect([s.has('zzz'), s.has('b')]).toEqual([false, true]);
    s.add(['zzz']);
    expect(s.has('zzz')).toBe(true);
    s.delete('*');
    expect(s.has('b')).toBe(false);
    expect(s.isEmpty).toBe(true);
  });
  it('is bounded', () => {
    const s = new CameraSet();
    s.add(Array.from({ length: CameraSet.MAX_IDS }, (_, i) => `c${i}`));
    expect(s.wouldOverflow(['one-more'])).toBe(true);
    expect(s.wouldOverflow('*')).toBe(false);
  });
});
