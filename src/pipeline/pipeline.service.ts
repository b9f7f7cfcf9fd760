import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { Observable, Subscription } from 'rxjs';
import { CONFIG, Config } from '../config';
import type { Frame } from '../contracts/frames';
import { EventBus } from '../events/event-bus';
import { FaceObservationDemand } from '../events/face-observation-demand';
import { GeneralHead } from '../inference/expression.classifier';
import { CropRule, DEFAULT_CROP } from '../inference/face-crop';
import { GENERAL_CROP } from '../inference/model-crop';
import { GeneralHeadResolver, HEAD_RESOLVER, HeadResolver } from '../inference/head.resolver';
import type { ViewEmbedder } from '../inference/embedding/identify-faces';
import { FACE_RECOGNIZER, type FaceRecognizer } from '../inference/face.recognizer';
import { FACE_DETECTOR, FaceDetectorModel, FEATURE_EXTRACTOR, LIVE_EMBEDDER } from '../inference/inference.module';
import type { FeatureExtractor } from '../inference/inference.types';
import { DEFAULT_IDENTITY_SCHEDULE } from './identity-scheduler';
import { expressionPipeline, ExpressionPipeline } from './pipeline';
import { PipelineMetrics } from './pipeline.metrics';

/** Nest token for the Observable<Frame> of all cameras (the ingest module provides CameraService.frames$). */
export const FRAME_SOURCE = Symbol('FRAME_SOURCE');

/**
 * Runs the expression pipeline over FRAME_SOURCE from application bootstrap to shutdown, and publishes what it sees
 * on the EventBus: `expression`, `face.enter`, `face.leave` (every frame), and `face.observed` (each face's crops,
 * built only while someone listens: calibration).
 */
@Injectable()
export class PipelineService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PipelineService');
  private readonly pipeline: ExpressionPipeline;
  private subscription: Subscription | null = null;
  private galleryChanges: Subscription | null = null;

  constructor(
    @Inject(FRAME_SOURCE) private readonly frames$: Observable<Frame>,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(FACE_DETECTOR) detector: FaceDetectorModel,
    @Inject(FEATURE_EXTRACTOR) trunk: FeatureExtractor,
    @Inject(GeneralHead) generalHead: GeneralHead,
    @Inject(PipelineMetrics) readonly metrics: PipelineMetrics,
    @Inject(EventBus) private readonly bus: EventBus,
    @Optional() @Inject(HEAD_RESOLVER) heads: HeadResolver | null,
    @Optional() @Inject(FACE_RECOGNIZER) private readonly recognizer: FaceRecognizer | null,
    @Optional() @Inject(LIVE_EMBEDDER) embedder: ViewEmbedder | null,
    @Optional() @Inject(FaceObservationDemand) demand: FaceObservationDemand | null,
    @Optional() @Inject(GENERAL_CROP) crop: CropRule | null,
  ) {
    this.pipeline = expressionPipeline(
      {
        detector,
        trunk,
        generalHead,
        heads: heads ?? new GeneralHeadResolver(),
        metrics,
        recognizer,
        embedder,
        onError: (err, frames) =>
          this.logger.warn(`batch of ${frames.length} frame(s) failed in ${err.stage}: ${err.message}`),
      },
      {
        batchSize: config.BATCH_SIZE,
        batchTimeoutMs: config.BATCH_TIMEOUT_MS,
        depth: config.PIPELINE_DEPTH,
        smoothing: config.SMOOTHING,
        tracker: { iouThreshold: config.TRACK_IOU, graceFrames: config.TRACK_GRACE_FRAMES },
        crop: crop ?? DEFAULT_CROP,
        observe: {
          wanted: () => this.bus.wants('face.observed'),
          next: (f) => this.bus.publish('face.observed', f),
          enrol: (cameraId) => demand?.enrols(cameraId) ?? false,
        },
        identity:
          config.IDENTITY === 'face'
            ? {
                schedule: {
                  ...DEFAULT_IDENTITY_SCHEDULE,
                  recheckMs: config.IDENTITY_RECHECK_MS,
                  maxRecheckMs: 8 * config.IDENTITY_RECHECK_MS,
                  maxPerBatch: config.IDENTITY_MAX_PER_BATCH,
                },
              }
            : null,
      },
    );
  }

  onApplicationBootstrap(): void {
    // the gallery changed ('gallery.changed', 'user.deleted', once the recogniser has reloaded): open tracks are
    // decided again from their embeddings at once, so "this is …" names a face without waiting for a new embedding
    if (this.config.IDENTITY === 'face' && this.recognizer?.changes) {
      this.galleryChanges = this.recognizer.changes.subscribe(() => {
        this.pipeline.rematch().then(
          (events) => events.forEach((e) => this.bus.emit(e)),
          (err: unknown) => this.logger.warn(`re-matching open tracks failed: ${err instanceof Error ? err.message : err}`),
        );
      });
    }
    this.start();
  }

  /** Idempotent; called at bootstrap. */
  start(): void {
    if (this.subscription) return;
    this.subscription = this.frames$.pipe(this.pipeline.operator).subscribe({
      next: (e) => this.bus.emit(e),
      error: (err) => this.logger.error(`frame source failed: ${err instanceof Error ? err.message : err}`),
      complete: () => this.logger.log('frame source completed'),
    });
  }

  /** A camera was removed: close its tracks (face.leave for each) and forget its state. */
  forgetCamera(cameraId: string): void {
    for (const e of this.pipeline.forgetCamera(cameraId)) this.bus.emit(e);
  }

  onModuleDestroy(): void {
    this.galleryChanges?.unsubscribe();
    this.galleryChanges = null;
    this.subscription?.unsubscribe();
    this.subscription = null;
  }
}
