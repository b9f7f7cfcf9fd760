/**
 * When to embed a track's face (live recognition, IDENTITY=face): per track, not per frame. A face is embedded on the
 * first good frames of its track (`firstFrames`), then re-checked; a face that grew much larger (`growth` × the side it
 * was last embedded at) is re-checked sooner (at most every `minGapMs`). Each batch embeds at most `maxPerBatch` faces,
 * spread over the inference workers: first tracks without a decision (fewest embeddings first), then the most overdue;
 * the others wait for a later frame and are counted as deferred.
 *
 * Two regimes, chosen from the pipeline's measured load (the share of time a batch is in flight, a moving average
 * over `loadWindowMs`, fed by batchStarted()/batchEnded()):
 * - quiet (load < `quietLoad`): the pipeline idles most of the time, so an embedding costs no throughput: every track
 *   is re-checked every `recheckMs` (about once per second), without spending the budget;
 * - busy: re-checks every `recheckMs`, doubling (up to `maxRecheckMs`) while the decision stays the same and dropping
 *   back when it changes, and no more embeddings than the budget allows (one per `framesPerEmbedding` processed
 *   frames, `burst` saved): a fixed share of the work however slow the machine is.
 * rematch() decides every track again from the embeddings it has (the gallery changed), without a new embedding.
 * Size and pose are checked here from the track's last detection (no request for a face that cannot pass); the worker
 * checks the new frame again and its sharpness.
 * Plain class, clock injected, no I/O: unit-tested with fakes (identity-scheduler.spec.ts).
 */
import type { Box } from '../contracts/geometry';
import { DEFAULT_FACE_QUALITY, FaceQualityOptions, geometryRejection } from '../inference/embedding/face-quality';
import type { FaceRecognition, FaceRecognizer } from '../inference/face.recognizer';

export interface IdentitySchedulerOptions {
  /** Embeddings a new track gets as soon as its frames are good enough, before it settles into re-checks. */
  firstFrames: number;
  recheckMs: number;
  maxRecheckMs: number;
  /** Re-check early when the face's shorter side reached this multiple of the largest side embedded so far. */
  growth: number;
  minGapMs: number;
  maxPerBatch: number;
  /** The decision averages the track's last `keep` embeddings. */
  keep: number;
  /**
   * The identity stage's share of the pipeline's work, whatever the machine's speed: one embedding is earned per
   * `framesPerEmbedding` processed frames, up to `burst` saved (so a group of new faces is recognised at once). One
   * face costs about 7 frames' worth of CPU (6 crops through the ResNet), so 150 frames per embedding bounds the
   * steady-state cost to ~5% of throughput (docs/IDENTITY.md "Live recognition").
   */
  framesPerEmbedding: number;
  burst: number;
  /**
   * Below this load (share of the time with a batch in flight) the pipeline counts as quiet: re-checks every
   * `recheckMs`, free of the budget. 0.7: a saturated pipeline (8 cameras, closed loop) measured 1.00, one 5 fps camera
   * 0.48–0.57 on the loaded 2-core VM (docs/IDENTITY.md); the quiet regime's own cost (≤ one embedding per track per `recheckMs`) raises
   * the load, and once it passes the bound the budget applies again, so it cannot hold the pipeline saturated.
   */
  quietLoad: number;
  /** Time constant of the load's moving average: how fast a pipeline that became busy leaves the quiet regime. */
  loadWindowMs: number;
  quality: FaceQualityOptions;
  /**
   * Faces asked for and not embedded yet, over all tracks: the embedding worker's queue. The embeddings are made beside
   * the batches (the batch does not wait), so this is what keeps a burst of new faces, or a slow machine, from piling
   * up requests whose frames are long gone by the time they run.
   */
  maxOutstanding: number;
}

export const DEFAULT_IDENTITY_SCHEDULE: IdentitySchedulerOptions = {
  firstFrames: 2,
  recheckMs: 1000,
  maxRecheckMs: 8000,
  growth: 1.5,
  minGapMs: 250,
  maxPerBatch: 2,
  keep: 5,
  framesPerEmbedding: 150,
  burst: 8,
  quietLoad: 0.7,
  loadWindowMs: 2000,
  quality: DEFAULT_FACE_QUALITY,
  maxOutstanding: 4,
};

interface TrackState {
  box: Box;
  landmarks: number[];
  embeddings: Float32Array[];
  /** Clock time of the frame of the last embedding, when it was planned (null: none yet). */
  lastAt: number | null;
  /** When the pending request was planned: the embedding is of that frame (the interval counts from it, not from when the result came back). */
  askedAt: number | null;
  /** Shorter side of the largest face embedded so far. */
  embeddedSide: number;
  interval: number;
  /** Asked for, and its embedding not back yet (batch in flight, or views at the embedder): not asked again meanwhile. */
  pending: boolean;
  /** Its views went to the embedder (dispatched()): the batch's end does not settle it, the embedding's arrival does. */
  inFlight: boolean;
  /** Which life of this key the state is (a camera's track ids start again after it is removed): an embedding
   * dispatched for an earlier track under the same key is dropped. */
  serial: number;
  /** A new embedding arrived since the last decision. */
  fresh: boolean;
  decision: FaceRecognition | null;
  /** The recogniser's version the decision was made under. */
  version: number;
}

/** What to ask of one batch: per frame (batch order) the boxes of the tracks to embed, and which tracks they are. */
export interface IdentityPlan {
  boxes: Box[][];
  keys: string[][];
  /** Due tracks left for a later frame because the batch was full. */
  deferred: number;
}

export const trackKey = (cameraId: string, trackId: number): string => `${cameraId}:${trackId}`;

export class IdentityScheduler {
  private readonly tracks = new Map<string, TrackState>();
  /** Embeddings earned and not spent yet (starts full). */
  private credits: number;
  /** Batches in flight now, and the load's moving average as of `loadAt`. */
  private inFlight = 0;
  /** Starts at 1 (busy) until measured otherwise: a pipeline starting under load never gets the quiet regime's floor. */
  private loadAvg = 1;
  private loadAt: number;
  private serials = 0;

  constructor(
    readonly options: IdentitySchedulerOptions = DEFAULT_IDENTITY_SCHEDULE,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.credits = options.burst;
    this.loadAt = clock();
  }

  /** A batch entered the pipeline (call before plan()): the load is measured from these two calls. */
  batchStarted(): void {
    this.settleLoad();
    this.inFlight++;
  }

  /** A batch left the pipeline (events out, or failed). */
  batchEnded(): void {
    this.settleLoad();
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Share of the recent time (moving average, time constant loadWindowMs) with at least one batch in flight, 0..1. */
  get load(): number {
    const a = Math.exp(-Math.max(0, this.clock() - this.loadAt) / this.options.loadWindowMs);
    return this.loadAvg * a + (this.inFlight > 0 ? 1 - a : 0);
  }

  /** Whether the pipeline is quiet enough for re-checks every recheckMs outside the budget. */
  get quiet(): boolean {
    return this.load < this.options.quietLoad;
  }

  private settleLoad(): void {
    this.loadAvg = this.load;
    this.loadAt = this.clock();
  }

  /**
   * The tracks of these cameras (one frame each, batch order) to embed in this batch. `parts`: the batch is split into
   * that many contiguous even parts, one per inference worker (splitEven); each part gets at most its share of
   * maxPerBatch, so the embedding work is spread over the workers instead of making one of them the batch's straggler.
   */
  plan(cameraIds: readonly string[], parts = 1): IdentityPlan {
    const now = this.clock();
    const o = this.options;
    this.credits = Math.min(o.burst, this.credits + cameraIds.length / o.framesPerEmbedding);
    // quiet: the time-based floor (every track about once per recheckMs, free); busy: back-off and the frame budget
    const quiet = this.quiet;
    const due: { frame: number; key: string; box: Box; rank: number }[] = [];
    const index = new Map(cameraIds.map((c, i) => [c, i]));
    for (const [key, t] of this.tracks) {
      const frame = index.get(key.slice(0, key.lastIndexOf(':')));
      if (frame === undefined || t.pending || geometryRejection(t.box, t.landmarks, o.quality)) continue;
      let rank: number | null = null;
      if (t.embeddings.length < o.firstFrames) rank = -1e12 + t.embeddings.length; // no decision yet: first
      else if (t.lastAt !== null) {
        const since = now - t.lastAt;
        if (since >= (quiet ? o.recheckMs : t.interval)) rank = -since;
        else if (since >= o.minGapMs && Math.min(t.box.w, t.box.h) >= o.growth * t.embeddedSide) rank = -since;
      }
      if (rank !== null) due.push({ frame, key, box: t.box, rank });
    }
    due.sort((a, b) => a.rank - b.rank);
    const plan: IdentityPlan = { boxes: cameraIds.map(() => []), keys: cameraIds.map(() => []), deferred: 0 };
    const k = Math.max(1, Math.min(parts, cameraIds.length));
    let outstanding = 0;
    for (const t of this.tracks.values()) if (t.pending) outstanding++;
    const room = Math.max(0, o.maxOutstanding - outstanding);
    const limit = Math.min(room, quiet ? o.maxPerBatch : Math.min(o.maxPerBatch, Math.floor(this.credits + 1e-9)));
    const share = Math.ceil(o.maxPerBatch / k);
    const perPart = new Array<number>(k).fill(0);
    let taken = 0;
    for (const d of due) {
      const part = partOf(d.frame, cameraIds.length, k);
      if (taken >= limit || perPart[part] >= share) {
        plan.deferred++;
        continue;
      }
      perPart[part]++;
      taken++;
      plan.boxes[d.frame].push(d.box);
      plan.keys[d.frame].push(d.key);
      const t = this.tracks.get(d.key)!;
      t.pending = true;
      t.askedAt = now;
    }
    if (!quiet) this.credits -= taken;
    return plan;
  }

  /** A batch's results are in (or it failed): its tracks may be asked for again, except those whose views went to the
   * embedder (they wait for embedded()). */
  settle(keys: readonly string[]): void {
    for (const k of keys) {
      const t = this.tracks.get(k);
      if (t && !t.inFlight) t.pending = false;
    }
  }

  /** The track's views went to the embedder; returns the token embedded() takes (-1: no such track). */
  dispatched(key: string): number {
    const t = this.tracks.get(key);
    if (!t) return -1;
    t.inFlight = true;
    return t.serial;
  }

  /**
   * The embedder answered for a dispatched track (`embedding` null: it failed): the track may be asked for again, and
   * the embedding, if any, is recorded. Dropped if the track has gone (or the key is a later track's) meanwhile.
   */
  embedded(key: string, token: number, embedding: Float32Array | null, side: number): boolean {
    const t = this.tracks.get(key);
    if (!t || t.serial !== token) return false;
    t.inFlight = false;
    t.pending = false;
    if (embedding) this.record(key, embedding, side);
    return embedding !== null;
  }

  /** Where a track's face is now (every processed frame, after tracking); creates the track's state. */
  observe(key: string, box: Box, landmarks: number[]): void {
    const t = this.tracks.get(key);
    if (t) {
      t.box = box;
      t.landmarks = landmarks;
    } else {
      this.tracks.set(key, {
        box,
        landmarks,
        embeddings: [],
        lastAt: null,
        askedAt: null,
        embeddedSide: 0,
        interval: this.options.recheckMs,
        pending: false,
        inFlight: false,
        serial: this.serials++,
        fresh: false,
        decision: null,
        version: -1,
      });
    }
  }

  /** A new embedding of the track's face (taken from a face of shorter side `side`). */
  record(key: string, embedding: Float32Array, side: number): void {
    const t = this.tracks.get(key);
    if (!t) return;
    t.embeddings.push(embedding);
    if (t.embeddings.length > this.options.keep) t.embeddings.shift();
    t.lastAt = t.askedAt ?? this.clock();
    t.embeddedSide = Math.max(t.embeddedSide, side);
    t.fresh = true;
  }

  embeddings(key: string): readonly Float32Array[] {
    return this.tracks.get(key)?.embeddings ?? [];
  }

  /** The decision for the track, and whether it needs deciding again (new embedding, or the gallery changed). */
  decision(key: string): FaceRecognition | null {
    return this.tracks.get(key)?.decision ?? null;
  }

  stale(key: string, version: number): boolean {
    const t = this.tracks.get(key);
    return !!t && t.embeddings.length > 0 && (t.fresh || t.version !== version);
  }

  /**
   * Store a decision. After a re-check (the track had its first frames already): the same user (or still unknown)
   * doubles the re-check interval up to maxRecheckMs; another answer sets it back to recheckMs.
   */
  decide(key: string, decision: FaceRecognition, version: number): void {
    const t = this.tracks.get(key);
    if (!t) return;
    if (t.embeddings.length > this.options.firstFrames && t.decision) {
      t.interval = t.decision.userId === decision.userId ? Math.min(this.options.maxRecheckMs, t.interval * 2) : this.options.recheckMs;
    }
    t.decision = decision;
    t.version = version;
    t.fresh = false;
  }

  /**
   * The gallery changed: decide every track that has embeddings again from them (no new embedding), under the
   * recogniser's current version. The re-check interval is left alone (no new evidence), except that a changed answer
   * sets it back to recheckMs. Returns the keys of the tracks decided again.
   */
  rematch(recognizer: Pick<FaceRecognizer, 'match' | 'version'>): string[] {
    const keys: string[] = [];
    const version = recognizer.version;
    for (const [key, t] of this.tracks) {
      if (t.embeddings.length === 0) continue;
      const decision = recognizer.match(t.embeddings);
      if (t.decision && t.decision.userId !== decision.userId) t.interval = this.options.recheckMs;
      t.decision = decision;
      t.version = version;
      t.fresh = false;
      keys.push(key);
    }
    return keys;
  }

  forget(key: string): void {
    this.tracks.delete(key);
  }

  forgetCamera(cameraId: string): void {
    const prefix = `${cameraId}:`;
    for (const k of this.tracks.keys()) if (k.startsWith(prefix)) this.tracks.delete(k);
  }

  /** Open tracks followed (for tests and metrics). */
  get size(): number {
    return this.tracks.size;
  }
}

/** Which of `parts` contiguous even chunks (splitEven: the first n % parts chunks one longer) item `i` of `n` is in. */
export function partOf(i: number, n: number, parts: number): number {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const big = extra * (base + 1);
  return i < big ? Math.floor(i / (base + 1)) : extra + Math.floor((i - big) / Math.max(1, base));
}
