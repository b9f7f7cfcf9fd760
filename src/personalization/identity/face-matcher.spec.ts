import { describe, expect, it } from 'vitest';
import { closestPairDistance, DEFAULT_FACE_MATCH, embeddingDistance, FaceMatcher, FaceMatchError, userThreshold } from './face-matcher';

/** A unit vector in 4-d pointing mostly along axis `i`, tilted by `t` towards axis `j`. */
function vec(i: number, t = 0, j = (i + 1) % 4): Float32Array {
  const v = new Float32Array(4);
  v[i] = Math.cos(t);
  v[j] += Math.sin(t);
  return v;
}

describe('embeddingDistance', () => {
  it('is Euclidean; √2 for orthogonal unit vectors', () => {
    expect(embeddingDistance(vec(0), vec(0))).toBe(0);
    expect(embeddingDistance(vec(0), vec(1))).toBeCloseTo(Math.SQRT2, 6);
    expect(() => embeddingDistance(new Float32Array(3), new Float32Array(4))).toThrow(FaceMatchError);
  });
});

describe('FaceMatcher', () => {
  const options = { threshold: 0.3, margin: 0.25, gallery: 'nearest' as const };
  const gallery = [
    { userId: 'ana', embeddings: [vec(0), vec(0, 0.1)] },
    { userId: 'ben', embeddings: [vec(1)] },
    { userId: 'cyd', embeddings: [vec(2)] },
  ];

  it('accepts the nearest user within the threshold and with a clear margin', () => {
    const m = new FaceMatcher(gallery, options).match([vec(0, 0.12)]);
    expect(m.userId).toBe('ana');
    expect(m.decision).toBe('match');
    expect(m.nearest?.distance).toBeCloseTo(2 * Math.sin(0.01), 4); // nearest of ana's two samples (angle 0.02)
    expect(m.margin).toBeGreaterThan(options.margin);
  });

  it('rejects a face too far from everybody (unknown person)', () => {
    const stranger = vec(3);
    const m = new FaceMatcher(gallery, options).match([stranger]);
    expect(m.userId).toBeNull();
    expect(m.decision).toBe('too-far');
    expect(m.nearest).not.toBeNull();
  });

  it('rejects a face between two users even within the threshold (margin)', () => {
    // two users close together; the probe half-way between them
    const close = [
      { userId: 'twin1', embeddings: [vec(0, 0)] },
      { userId: 'twin2', embeddings: [vec(0, 0.2)] },
    ];
    const m = new FaceMatcher(close, options).match([vec(0, 0.09)]);
    expect(m.nearest!.distance).toBeLessThan(options.threshold);
    expect(m.userId).toBeNull();
    expect(m.decision).toBe('ambiguous');
    // the same probe is accepted with no margin required
    expect(new FaceMatcher(close, { ...options, margin: 0 }).match([vec(0, 0.09)]).userId).toBe('twin1');
  });

  it('averages distances over frames: one bad frame does not flip a track', () => {
    const matcher = new FaceMatcher(gallery, options);
    const good = vec(0, 0.05);
    const bad = vec(1, 0.05); // looks like ben
    expect(matcher.match([bad]).userId).toBe('ben');
    const m = matcher.match([good, good, good, bad]);
    expect(m.frames).toBe(4);
    // ana: mean of three tiny distances and one large one; ben: the mirror image, so ana stays nearest — but the
    // averaged distance is over the threshold, so the honest answer is "not sure" rather than ben
    expect(m.nearest?.userId).toBe('ana');
    expect(m.userId).not.toBe('ben');
    expect(matcher.match([good, good, good]).userId).toBe('ana');
  });

  it("with gallery 'mean' compares with the normalised mean of a user's samples", () => {
    const spread = [{ userId: 'ana', embeddings: [vec(0, 0.3), vec(0, -0.3)] }, { userId: 'ben', embeddings: [vec(2)] }];
    const probe = vec(0);
    const nearest = new FaceMatcher(spread, { ...options, gallery: 'nearest' }).match([probe]);
    const mean = new FaceMatcher(spread, { ...options, gallery: 'mean' }).match([probe]);
    expect(nearest.nearest!.distance).toBeCloseTo(2 * Math.sin(0.15), 5);
    expect(mean.nearest!.distance).toBeCloseTo(0, 5);
  });

  it('k > 1 averages the k nearest samples of a user', () => {
    const g = [{ userId: 'ana', embeddings: [vec(0), vec(0, 0.2), vec(0, 1)] }, { userId: 'ben', embeddings: [vec(2)] }];
    const d = new FaceMatcher(g, { ...options, k: 2 }).distances(vec(0))[0];
    expect(d.userId).toBe('ana');
    expect(d.distance).toBeCloseTo((0 + 2 * Math.sin(0.1)) / 2, 5);
  });

  it('handles an empty gallery, no probes, users without faces, and a single user', () => {
    expect(new FaceMatcher([], options).match([vec(0)]).decision).toBe('no-gallery');
    expect(new FaceMatcher(gallery, options).match([]).decision).toBe('no-probe');
    const withEmpty = new FaceMatcher([{ userId: 'x', embeddings: [] }, ...gallery], options);
    expect(withEmpty.size).toBe(3);
    const single = new FaceMatcher([{ userId: 'solo', embeddings: [vec(0)] }], options).match([vec(0, 0.05)]);
    expect(single.userId).toBe('solo');
    expect(single.margin).toBe(Infinity);
  });

  it('rejects bad options and duplicate users', () => {
    expect(() => new FaceMatcher(gallery, { ...options, threshold: 0 })).toThrow(FaceMatchError);
    expect(() => new FaceMatcher(gallery, { ...options, margin: -1 })).toThrow(FaceMatchError);
    expect(() => new FaceMatcher([gallery[0], gallery[0]], options)).toThrow(FaceMatchError);
  });

  it('ships calibrated defaults (docs/IDENTITY.md)', () => {
    expect(DEFAULT_FACE_MATCH).toEqual({ threshold: 0.24, margin: 0.25, gallery: 'nearest', neighbourRatio: 0.975 });
  });
});

describe('per-user thresholds (neighbourRatio)', () => {
  const options = { threshold: 0.3, margin: 0.25, gallery: 'nearest' as const };
  // ana and bea close together (gap 2·sin(0.1) ≈ 0.1997), cyd far from both (√2)
  const gallery = [
    { userId: 'ana', embeddings: [vec(0), vec(0, 1.2)] },
    { userId: 'bea', embeddings: [vec(0, 0.2)] },
    { userId: 'cyd', embeddings: [vec(2)] },
  ];
  const gap = 2 * Math.sin(0.1);

  it('closestPairDistance is the smallest distance over all pairs; userThreshold caps the global one', () => {
    expect(closestPairDistance(gallery[0].embeddings, gallery[1].embeddings)).toBeCloseTo(gap, 6);
    expect(closestPairDistance([], gallery[1].embeddings)).toBe(Infinity);
    expect(userThreshold(0.3, 0.5, 0.2)).toBeCloseTo(0.1, 9);
    expect(userThreshold(0.3, 0.5, 1)).toBe(0.3);
    expect(userThreshold(0.3, 0.5, Infinity)).toBe(0.3);
    expect(userThreshold(0.3, undefined, 0.2)).toBe(0.3);
    expect(userThreshold(0.3, 0, 0.2)).toBe(0.3);
  });

  it('tightens the threshold of users whose nearest other user is close, and only theirs', () => {
    const m = new FaceMatcher(gallery, { ...options, neighbourRatio: 0.5 });
    expect(m.thresholdOf('ana')).toBeCloseTo(0.5 * gap, 6);
    expect(m.thresholdOf('bea')).toBeCloseTo(0.5 * gap, 6);
    expect(m.thresholdOf('cyd')).toBe(0.3);
    expect(m.thresholdOf('nobody')).toBeUndefined();
    expect(new FaceMatcher(gallery, options).thresholdOf('ana')).toBe(0.3); // off by default
  });

  it('rejects a face within the global threshold but beyond the user\'s own (a stranger near a crowded user)', () => {
    const probe = vec(0, -0.15); // 2·sin(0.075) ≈ 0.15 from ana, ≈ 0.35 from bea: a clear margin
    const plain = new FaceMatcher(gallery, options).match([probe]);
    expect(plain.userId).toBe('ana');
    expect(plain.threshold).toBe(0.3);
    const tight = new FaceMatcher(gallery, { ...options, neighbourRatio: 0.5 }).match([probe]);
    expect(tight.userId).toBeNull();
    expect(tight.decision).toBe('too-far');
    expect(tight.threshold).toBeCloseTo(0.5 * gap, 6);
    // a face close to ana is still accepted, and cyd keeps the global threshold
    expect(new FaceMatcher(gallery, { ...options, neighbourRatio: 0.5 }).match([vec(0, -0.05)]).userId).toBe('ana');
    expect(new FaceMatcher(gallery, { ...options, neighbourRatio: 0.5 }).match([vec(2, 0.25)]).userId).toBe('cyd');
  });

  it('a user alone in the gallery (or whose neighbours have no faces) keeps the global threshold', () => {
    const solo = new FaceMatcher([{ userId: 'solo', embeddings: [vec(0)] }, { userId: 'empty', embeddings: [] }], { ...options, neighbourRatio: 0.5 });
    expect(solo.thresholdOf('solo')).toBe(0.3);
    expect(solo.match([vec(0, 0.25)]).userId).toBe('solo');
  });

  it('follows gallery changes: a new list or a list that grew is measured again', () => {
    const opts = { ...options, neighbourRatio: 0.5 };
    const lists = { ana: [vec(0)], bea: [vec(0, 0.2)], cyd: [vec(2)] };
    const build = () => new FaceMatcher(Object.entries(lists).map(([userId, embeddings]) => ({ userId, embeddings })), opts);
    expect(build().thresholdOf('cyd')).toBe(0.3);
    lists.cyd = [vec(0, 0.1)]; // replaced: now between ana and bea
    expect(build().thresholdOf('ana')).toBeCloseTo(0.5 * 2 * Math.sin(0.05), 6);
    expect(build().thresholdOf('cyd')).toBeCloseTo(0.5 * 2 * Math.sin(0.05), 6);
    lists.bea.push(vec(0, 0.04)); // grew in place: bea is now nearer to ana than cyd is
    expect(build().thresholdOf('ana')).toBeCloseTo(0.5 * 2 * Math.sin(0.02), 6);
  });

  it('rejects a negative neighbourRatio', () => {
    expect(() => new FaceMatcher(gallery, { ...options, neighbourRatio: -0.1 })).toThrow(FaceMatchError);
  });
});
