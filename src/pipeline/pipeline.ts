import { catchError, concatMap, EMPTY, finalize, of, OperatorFunction, SchedulerLike, tap } from 'rxjs';
import { PipelineEvent } from '../contracts/events';
import type { FaceIdentity } from '../contracts/faces';
import type { Frame } from '../contracts/frames';
import type { ViewEmbedder } from '../inference/embedding/identify-faces';
import type { CropRule } from '../inference/face-crop';
import type { FaceRecognizer } from '../inference/face.recognizer';
import type { HeadResolver, HeadRunner } from '../inference/head.resolver';
import { FaceDetector, FeatureExtractor } from '../inference/inference.types';
import { batchLatestPerKey } from './batch-latest';
import { classifyFaces } from './classify-faces';
import { cropFaces, CropFacesOptions, LARGE_CROP_SIDE } from './crop-faces';
import { detectFaces } from './detect-faces';
import { embedEnrolments } from './embed-enrolments';
import { expressionEvents } from './expression-events';
import type { TrackerOptions } from './face-tracker';
import type { PipelineMetrics } from './pipeline.metrics';
import { IdentityScheduler, IdentitySchedulerOptions } from './identity-scheduler';
import { FrameWork, StageError } from './pipeline.types';
import { recognizeFaces } from './recognize-faces';
import { ScoreSmoother } from './score-smoother';
import { smoothScores } from './smooth-scores';
import { TrackerRegistry, trackFaces } from './track-faces';

export interface PipelineDeps {
  detector: FaceDetector;
  trunk: FeatureExtractor;
  generalHead: HeadRunner;
  heads: HeadResolver;
  metrics: PipelineMetrics;
  onError?: (err: StageError, frames: Frame[]) => void;
  /** Live recognition (with options.identity): who a track's face is. Absent = nobody is recognised. */
  recognizer?: FaceRecognizer | null;
  /** Live recognition's embedder (IDENTITY=face): the embedding worker, or the calling thread with INFERENCE_WORKERS=0.
   * Without one, nothing is embedded (no recognition, no enrolment from calibration capture). */
  embedder?: ViewEmbedder | null;
}

export interface PipelineOptions {
  batchSize: number;
  batchTimeoutMs: number;
  /**
   * Batches in flight (PIPELINE_DEPTH). 1: one batch at a time. 2: the next batch's detection (letterbox + YuNet)
   * overlaps the previous batch's crops and classification; the stages after detection still see batches in order.
   */
  depth?: number;
  smoothing: number;
  tracker: TrackerOptions;
  crop: CropRule;
  observe?: CropFacesOptions['observe'];
  scheduler?: SchedulerLike;
  now?: () => number;
  /** IDENTITY=face: when to embed each track's face (null/absent = IDENTITY=off: no embedding, events as before). */
  identity?: { schedule: IdentitySchedulerOptions; clock?: () => number } | null;
}

export interface ExpressionPipeline {
  operator: OperatorFunction<Frame, PipelineEvent>;
  /** Close a camera's tracks (camera removed): the face.leave events to send. */
  forgetCamera(cameraId: string): PipelineEvent[];
  /**
   * The gallery changed (IDENTITY=face): decide every open track again from the embeddings it already has, in turn
   * with the batches (after the one in the ordered stages, before the next), and resolve the new user with the
   * HeadResolver's precedence. Resolves to the identity.changed events to send (none with IDENTITY=off).
   */
  rematch(): Promise<PipelineEvent[]>;
}

/**
 * The whole pipeline, composed in one place:
 *   frames -> [latest wins per camera, batch by size/timeout, `depth` batches in flight] -> detect (1 run per batch)
 *          -> track (per camera) -> crop 48x48 -> trunk (1 run per batch) + heads -> smooth -> events
 * A detector with analyze() (the inference pool) crops and runs the trunk in its workers as part of the detect call
 * (the batch split across workers, one round trip); the crop and trunk stages then only pass those results on.
 * Every stage after the batcher handles one batch at a time; errors are caught per batch (counted, frames counted as
 * dropped with reason "error") and the stream goes on.
 */
export function expressionPipeline(deps: PipelineDeps, options: PipelineOptions): ExpressionPipeline {
  const { metrics } = deps;
  const trackers = new TrackerRegistry(options.tracker);
  const smoother = new ScoreSmoother(options.smoothing);
  const users = new Map<string, string | null>();
  const identities = new Map<string, FaceIdentity | null>();
  const embedder = options.identity && deps.embedder ? deps.embedder : null;
  const recognizer = embedder && deps.recognizer ? deps.recognizer : null;
  const scheduler = recognizer ? new IdentityScheduler(options.identity!.schedule, options.identity!.clock) : null;

  /** Everything after detection holds per-camera state (tracks, smoothing): it runs one batch at a time, in order. */
  const ordered: OperatorFunction<FrameWork[], PipelineEvent> = (batches$) =>
    batches$.pipe(
      trackFaces({ trackers }),
      scheduler && recognizer ? recognizeFaces({ scheduler, recognizer, embedder: embedder!, metrics }) : (b$) => b$,
      cropFaces({ rule: options.crop, observe: options.observe }),
      classifyFaces({ trunk: deps.trunk, generalHead: deps.generalHead, heads: deps.heads, metrics }),
      smoothScores({ smoother }),
      expressionEvents({ metrics, now: options.now, users, identity: !!options.identity, identities }),
    );

  /** Resolves when the previous batch has left the ordered part (or failed). */
  let previousDone: Promise<void> = Promise.resolve();

  const process = (frames: Frame[]) => {
    const turn = previousDone;
    let release!: () => void;
    previousDone = new Promise<void>((r) => (release = r));
    scheduler?.batchStarted(); // the scheduler measures the pipeline's load (quiet: re-checks every IDENTITY_RECHECK_MS)
    // live recognition: which tracks' faces to embed in this batch (none while nobody is enrolled)
    const plan = scheduler && recognizer!.size > 0 ? scheduler.plan(frames.map((f) => f.cameraId), deps.detector.analyze ? (deps.detector.parallelism ?? 1) : 1) : null;
    if (plan?.deferred) metrics.deferred(plan.deferred);
    if (scheduler) metrics.pipelineLoad(scheduler.load);
    // calibration capture: every face of the frames of a camera whose calibration still needs samples is enrolled too
    // (aligned with the same recipe in the workers, embedded before the batch goes on) — only with an embedder (IDENTITY=face)
    const enrol = embedder && options.observe?.enrol && options.observe.wanted() ? frames.map((f) => options.observe!.enrol!(f.cameraId)) : undefined;
    const asks = plan?.boxes.some((b) => b.length > 0) || enrol?.some(Boolean);
    const identity = asks
      ? { frames: plan?.boxes ?? frames.map(() => []), quality: options.identity!.schedule.quality, ...(enrol?.some(Boolean) ? { enrol } : {}) }
      : undefined;
    return of(frames).pipe(
      detectFaces({
        detector: deps.detector,
        metrics,
        analyze: () => ({ crop: options.crop, largeSide: options.observe?.wanted() ? LARGE_CROP_SIDE : 0, features: true }),
        identity,
      }),
      enrol?.some(Boolean) ? embedEnrolments({ embedder: embedder!, metrics }) : (b$) => b$,
      concatMap(async (batch) => {
        await turn;
        return batch;
      }),
      ordered,
      catchError((err: unknown) => {
        const e = err instanceof StageError ? err : new StageError('pipeline', err);
        metrics.error(e.stage);
        for (const f of frames) metrics.frameDropped(f.cameraId, 'error');
        deps.onError?.(e, frames);
        return EMPTY;
      }),
      // a batch that failed early still waits for its predecessor, so the next one cannot overtake it
      finalize(() => {
        scheduler?.batchEnded();
        if (plan) scheduler!.settle(plan.keys.flat());
        void turn.then(release);
      }),
    );
  };

  const operator: OperatorFunction<Frame, PipelineEvent> = (source) =>
    source.pipe(
      tap((f) => metrics.frameIn(f.cameraId)),
      batchLatestPerKey<Frame, PipelineEvent>(
        {
          key: (f) => f.cameraId,
          maxBatch: options.batchSize,
          timeoutMs: options.batchTimeoutMs,
          onDrop: (f) => metrics.frameDropped(f.cameraId, 'latest_wins'),
          concurrency: options.depth ?? 1,
          scheduler: options.scheduler,
        },
        process,
      ),
    );

  const now = options.now ?? Date.now;
  const rematchNow = (): PipelineEvent[] => {
    const out: PipelineEvent[] = [];
    const ts = now();
    for (const key of scheduler!.rematch(recognizer!)) {
      const before = users.get(key);
      if (before === undefined) continue; // not through the events stage yet: its next frame reports it
      const cut = key.lastIndexOf(':');
      const cameraId = key.slice(0, cut);
      const trackId = Number(key.slice(cut + 1));
      const r = deps.heads.resolve(cameraId, trackId, scheduler!.decision(key));
      const identity = r.identity ?? null;
      if (before !== r.userId && (identities.get(key)?.source === 'face' || identity?.source === 'face')) {
        out.push({ type: 'identity.changed', cameraId, trackId, ts, userId: r.userId, previousUserId: before, identity });
      }
      users.set(key, r.userId);
      identities.set(key, identity);
    }
    return out;
  };

  return {
    operator,
    rematch() {
      if (!scheduler || !recognizer) return Promise.resolve([]);
      const turn = previousDone;
      let release!: () => void;
      previousDone = new Promise<void>((r) => (release = r));
      return turn.then(() => {
        try {
          return rematchNow();
        } finally {
          release();
        }
      });
    },
    forgetCamera(cameraId) {
      const ts = (options.now ?? Date.now)();
      scheduler?.forgetCamera(cameraId);
      return trackers.remove(cameraId).map((trackId) => {
        const key = `${cameraId}:${trackId}`;
        smoother.forget(key);
        const userId = users.get(key) ?? null;
        users.delete(key);
        identities.delete(key);
        return { type: 'face.leave' as const, cameraId, trackId, ts, userId };
      });
    },
  };
}
