/**
 * Who is this face? Nearest enrolled user by embedding distance, accepted only when the distance is under a
 * threshold AND the second-best user is at least a margin further away, with the distances averaged over several
 * frames of the same track. Pure: no I/O, no model; embeddings are the L2-normalised 128-d vectors of
 * src/inference/embedding/face-embedder.ts. Calibration of the defaults: docs/IDENTITY.md.
 */

/** One enrolled user and every embedding enrolled for them (all kept: a user is as close as their closest sample). */
export interface EnrolledFaces {
  userId: string;
  embeddings: readonly Float32Array[];
}

export interface FaceMatchOptions {
  /** Accept the nearest user only when its (frame-averaged) distance is at most this. */
  threshold: number;
  /** ... and the second-nearest user is at least this much further away, relative to the nearest's distance:
   * accept only if second ≥ (1 + margin) · nearest (a ratio test; it beat an absolute gap on the calibration data). */
  margin: number;
  /** A user's distance to a probe: to their nearest enrolled embedding, or to the normalised mean of them. */
  gallery: 'nearest' | 'mean';
  /** With `nearest`: a user's distance is the mean of their `k` nearest embeddings' distances (default 1). */
  k?: number;
}

/**
 * Calibrated on JAFFE + the Taiwanese set together with one rule (`npm run bench:identity -- --calibrate`,
 * docs/IDENTITY.md): among (threshold, margin) pairs that let at most 1% of strangers through on every set
 * (leave-one-subject-out), the one with the best worst-set genuine acceptance. For embeddings made with the
 * embedder's test-time flip (its default), averaged over the views of alignFaceViews (VIEW_SCALES).
 */
export const DEFAULT_FACE_MATCH: FaceMatchOptions = { threshold: 0.24, margin: 0.25, gallery: 'nearest' };

export type MatchDecision = 'match' | 'no-gallery' | 'no-probe' | 'too-far' | 'ambiguous';

export interface FaceMatch {
  /** The recognised user, or null (unknown face, ambiguous, or nobody enrolled). */
  userId: string | null;
  decision: MatchDecision;
  /** Nearest user and their frame-averaged distance (also when not accepted; null when nobody is enrolled). */
  nearest: { userId: string; distance: number } | null;
  /** (runner-up − nearest) / nearest, the relative margin compared with options.margin; Infinity with one user. */
  margin: number;
  /** How many frames the decision averaged. */
  frames: number;
}

export class FaceMatchError extends Error {}

/** Euclidean distance of two vectors of the same length (for unit vectors: √(2 − 2·cos), 0..2). */
export function embeddingDistance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new FaceMatchError(`embedding lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

function normalisedMean(vectors: readonly Float32Array[]): Float32Array {
  const m = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < m.length; i++) m[i] += v[i];
  let n = 0;
  for (let i = 0; i < m.length; i++) n += m[i] * m[i];
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < m.length; i++) m[i] /= n;
  return m;
}

export class FaceMatcher {
  private readonly users: { userId: string; refs: readonly Float32Array[] }[];

  constructor(
    gallery: readonly EnrolledFaces[],
    readonly options: FaceMatchOptions = DEFAULT_FACE_MATCH,
  ) {
    if (!(options.threshold > 0) || !(options.margin >= 0)) {
      throw new FaceMatchError(`threshold must be > 0 and margin ≥ 0 (got ${options.threshold}, ${options.margin})`);
    }
    const seen = new Set<string>();
    this.users = [];
    for (const u of gallery) {
      if (seen.has(u.userId)) throw new FaceMatchError(`user ${u.userId} appears twice in the gallery`);
      seen.add(u.userId);
      if (u.embeddings.length === 0) continue; // enrolled without faces: cannot be recognised
      this.users.push({ userId: u.userId, refs: options.gallery === 'mean' ? [normalisedMean(u.embeddings)] : u.embeddings });
    }
  }

  get size(): number {
    return this.users.length;
  }

  /** Every enrolled user's distance to one probe embedding, nearest first. */
  distances(probe: Float32Array): { userId: string; distance: number }[] {
    return this.users
      .map((u) => ({ userId: u.userId, distance: this.userDistance(probe, u.refs) }))
      .sort((a, b) => a.distance - b.distance);
  }

  private userDistance(probe: Float32Array, refs: readonly Float32Array[]): number {
    const k = Math.min(refs.length, Math.max(1, this.options.k ?? 1));
    if (k === 1) {
      let best = Infinity;
      for (const r of refs) best = Math.min(best, embeddingDistance(probe, r));
      return best;
    }
    const d = refs.map((r) => embeddingDistance(probe, r)).sort((a, b) => a - b);
    let s = 0;
    for (let i = 0; i < k; i++) s += d[i];
    return s / k;
  }

  /** Decide on one or more frames of the same face: per user the mean of the per-frame distances, then threshold + margin. */
  match(probes: readonly Float32Array[]): FaceMatch {
    if (probes.length === 0) return { userId: null, decision: 'no-probe', nearest: null, margin: Infinity, frames: 0 };
    if (this.users.length === 0) return { userId: null, decision: 'no-gallery', nearest: null, margin: Infinity, frames: probes.length };
    const sums = new Map<string, number>(this.users.map((u) => [u.userId, 0]));
    for (const p of probes) for (const d of this.distances(p)) sums.set(d.userId, (sums.get(d.userId) ?? 0) + d.distance);
    const ranked = [...sums].map(([userId, s]) => ({ userId, distance: s / probes.length })).sort((a, b) => a.distance - b.distance);
    const [first, second] = ranked;
    const margin = !second ? Infinity : first.distance > 0 ? (second.distance - first.distance) / first.distance : second.distance > 0 ? Infinity : 0;
    const decision: MatchDecision =
      first.distance > this.options.threshold ? 'too-far' : margin < this.options.margin ? 'ambiguous' : 'match';
    return { userId: decision === 'match' ? first.userId : null, decision, nearest: first, margin, frames: probes.length };
  }
}
