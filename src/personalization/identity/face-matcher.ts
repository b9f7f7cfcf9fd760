/**
 * Who is this face? Nearest enrolled user by embedding distance, accepted only when the distance is under that
 * user's threshold AND the second-best user is at least a margin further away, with the distances averaged over
 * several frames of the same track. A user's threshold is the global one, tightened for a user whose nearest other
 * enrolled user is close (`neighbourRatio`): in a crowded part of face space a stranger is likelier to land near them. Pure: no I/O, no model; embeddings are the L2-normalised 128-d vectors of
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
  /**
   * Per-user threshold: user u is accepted only within min(threshold, neighbourRatio · gap(u)), where gap(u) is the
   * distance between u's enrolled embeddings and the nearest other enrolled user's (closest pair). So a face is never
   * taken for u when it is further from u than u's own enrolment is from somebody else. Omitted or 0: off (one global
   * threshold). A user alone in the gallery has no neighbour and gets the global threshold.
   */
  neighbourRatio?: number;
}

/**
 * Calibrated on JAFFE + the Taiwanese set together with one rule written down before the figures
 * (`npm run bench:identity -- --calibrate`, docs/IDENTITY.md): over 200 leave-20%-of-subjects-out splits per set,
 * among the (threshold, margin, neighbourRatio) triples that let at most 0.5% of strangers through pooled on every
 * set with at most 5% of splits over 2%, the one with the best worst-set mean top-1 (ties: the more conservative).
 * For embeddings made with the embedder's test-time flip (its default), averaged over the views of alignFaceViews.
 */
export const DEFAULT_FACE_MATCH: FaceMatchOptions = { threshold: 0.24, margin: 0.25, gallery: 'nearest', neighbourRatio: 0.975 };

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
  /** The threshold the nearest user's distance was held to (per-user: see FaceMatchOptions.neighbourRatio). */
  threshold?: number;
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

/** Smallest distance between any embedding of `a` and any of `b` (Infinity when either is empty). */
export function closestPairDistance(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return closestPair(pack(a), pack(b));
}

/** A user's embeddings packed in one array, with their squared norms: the gap computation's inner loop is a dot product. */
interface Packed {
  data: Float32Array;
  norms: Float64Array;
  dim: number;
}

function pack(vectors: readonly Float32Array[]): Packed {
  const dim = vectors[0]?.length ?? 0;
  const data = new Float32Array(vectors.length * dim);
  const norms = new Float64Array(vectors.length);
  vectors.forEach((v, i) => {
    if (v.length !== dim) throw new FaceMatchError(`embedding lengths differ: ${v.length} vs ${dim}`);
    data.set(v, i * dim);
    let n = 0;
    for (let k = 0; k < dim; k++) n += v[k] * v[k];
    norms[i] = n;
  });
  return { data, norms, dim };
}

/** min ‖x − y‖ over x ∈ a, y ∈ b, as √(‖x‖² + ‖y‖² − 2 x·y): one dot product per pair, one square root in all. */
function closestPair(a: Packed, b: Packed): number {
  if (a.norms.length === 0 || b.norms.length === 0) return Infinity;
  if (a.dim !== b.dim) throw new FaceMatchError(`embedding lengths differ: ${a.dim} vs ${b.dim}`);
  const dim = a.dim;
  let best = Infinity;
  for (let i = 0; i < a.norms.length; i++) {
    const ai = i * dim;
    for (let j = 0; j < b.norms.length; j++) {
      const bj = j * dim;
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += a.data[ai + k] * b.data[bj + k];
      const sq = a.norms[i] + b.norms[j] - 2 * dot;
      if (sq < best) best = sq;
    }
  }
  return Math.sqrt(Math.max(0, best));
}

/**
 * Closest-pair distances between two users' embedding lists, remembered per pair of list objects (weakly: nothing
 * outlives the lists). A caller that rebuilds its matcher with the same lists for unchanged users (the live
 * recogniser does) pays only for the changed user's pairs. A list whose length changed since is measured again.
 */
const pairCache = new WeakMap<readonly Float32Array[], WeakMap<readonly Float32Array[], { la: number; lb: number; d: number }>>();

function pairGap(a: readonly Float32Array[], b: readonly Float32Array[], compute: () => number): number {
  const hit = pairCache.get(a)?.get(b);
  if (hit && hit.la === a.length && hit.lb === b.length) return hit.d;
  const back = pairCache.get(b)?.get(a);
  if (back && back.la === b.length && back.lb === a.length) return back.d;
  const d = compute();
  let row = pairCache.get(a);
  if (!row) pairCache.set(a, (row = new WeakMap()));
  row.set(b, { la: a.length, lb: b.length, d });
  return d;
}

/**
 * A user's acceptance threshold: the global one, capped at neighbourRatio × the gap to their nearest other enrolled
 * user (`gap`, Infinity when alone). Exported for the calibration in scripts/bench-identity.ts.
 */
export function userThreshold(threshold: number, neighbourRatio: number | undefined, gap: number): number {
  return neighbourRatio && neighbourRatio > 0 ? Math.min(threshold, neighbourRatio * gap) : threshold;
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
  private readonly thresholds = new Map<string, number>();

  constructor(
    gallery: readonly EnrolledFaces[],
    readonly options: FaceMatchOptions = DEFAULT_FACE_MATCH,
  ) {
    if (!(options.threshold > 0) || !(options.margin >= 0)) {
      throw new FaceMatchError(`threshold must be > 0 and margin ≥ 0 (got ${options.threshold}, ${options.margin})`);
    }
    if (options.neighbourRatio !== undefined && !(options.neighbourRatio >= 0)) {
      throw new FaceMatchError(`neighbourRatio must be ≥ 0 (got ${options.neighbourRatio})`);
    }
    const seen = new Set<string>();
    this.users = [];
    for (const u of gallery) {
      if (seen.has(u.userId)) throw new FaceMatchError(`user ${u.userId} appears twice in the gallery`);
      seen.add(u.userId);
      if (u.embeddings.length === 0) continue; // enrolled without faces: cannot be recognised
      this.users.push({ userId: u.userId, refs: options.gallery === 'mean' ? [normalisedMean(u.embeddings)] : u.embeddings });
    }
    // per-user thresholds: O(total embeddings²) dot products for a new gallery (docs/IDENTITY.md gives the cost);
    // a gallery rebuilt after one user's change recomputes only that user's pairs (pairGap's cache)
    const gaps = new Map<string, number>(this.users.map((u) => [u.userId, Infinity]));
    if (options.neighbourRatio) {
      const packed: (Packed | undefined)[] = [];
      const packedOf = (i: number) => (packed[i] ??= pack(this.users[i].refs));
      for (let i = 0; i < this.users.length; i++) {
        for (let j = i + 1; j < this.users.length; j++) {
          const d = pairGap(this.users[i].refs, this.users[j].refs, () => closestPair(packedOf(i), packedOf(j)));
          for (const id of [this.users[i].userId, this.users[j].userId]) gaps.set(id, Math.min(gaps.get(id)!, d));
        }
      }
    }
    for (const [id, gap] of gaps) this.thresholds.set(id, userThreshold(options.threshold, options.neighbourRatio, gap));
  }

  /** The threshold a face must be within to be taken for this user (undefined for a user not in the gallery). */
  thresholdOf(userId: string): number | undefined {
    return this.thresholds.get(userId);
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
    const threshold = this.thresholds.get(first.userId)!;
    const decision: MatchDecision = first.distance > threshold ? 'too-far' : margin < this.options.margin ? 'ambiguous' : 'match';
    return { userId: decision === 'match' ? first.userId : null, decision, nearest: first, margin, frames: probes.length, threshold };
  }
}
