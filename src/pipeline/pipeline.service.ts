import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { CONFIG, Config } from '../config';
import type { PipelineEvent } from '../contracts/events';
import type { FaceObservation } from '../contracts/faces';
import type { Frame } from '../contracts/frames';
import { GeneralHead } from '../inference/expression.classifier';
import { DEFAULT_CROP } from '../inference/face-crop';
import { GeneralHeadResolver, HEAD_RESOLVER, HeadResolver } from '../inference/head.resolver';
import { FACE_DETECTOR, FaceDetectorModel, FEATURE_EXTRACTOR, FeatureExtractorModel } from '../inference/inference.module';
import { expressionPipeline, ExpressionPipeline } from './pipeline';
import { PipelineMetrics } from './pipeline.metrics';

/** Nest token for the Observable<Frame> of all cameras (the ingest module provides CameraService.frames$). */
export const FRAME_SOURCE = Symbol('FRAME_SOURCE');

/**
 * Runs the expression pipeline over FRAME_SOURCE from application bootstrap to shutdown.
 * `events$` and `faces$` are hot: a subscriber gets what happens after it subscribes.
 */
@Injectable()
export class PipelineService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PipelineService');
  private readonly events = new Subject<PipelineEvent>();
  private readonly faces = new Subject<FaceObservation>();
  private readonly pipeline: ExpressionPipeline;
  private subscription: Subscription | null = null;

  readonly events$: Observable<PipelineEvent> = this.events.asObservable();
  readonly faces$: Observable<FaceObservation> = this.faces.asObservable();

  constructor(
    @Inject(FRAME_SOURCE) private readonly frames$: Observable<Frame>,
    @Inject(CONFIG) config: Config,
    @Inject(FACE_DETECTOR) detector: FaceDetectorModel,
    @Inject(FEATURE_EXTRACTOR) trunk: FeatureExtractorModel,
    @Inject(GeneralHead) generalHead: GeneralHead,
    @Inject(PipelineMetrics) readonly metrics: PipelineMetrics,
    @Optional() @Inject(HEAD_RESOLVER) heads: HeadResolver | null,
  ) {
    this.pipeline = expressionPipeline(
      {
        detector,
        trunk,
        generalHead,
        heads: heads ?? new GeneralHeadResolver(),
        metrics,
        onError: (err, frames) =>
          this.logger.warn(`batch of ${frames.length} frame(s) failed in ${err.stage}: ${err.message}`),
      },
      {
        batchSize: config.BATCH_SIZE,
        batchTimeoutMs: config.BATCH_TIMEOUT_MS,
        depth: config.PIPELINE_DEPTH,
        smoothing: config.SMOOTHING,
        tracker: { iouThreshold: config.TRACK_IOU, graceFrames: config.TRACK_GRACE_FRAMES },
        crop: DEFAULT_CROP,
        observe: { wanted: () => this.faces.observed, next: (f) => this.faces.next(f) },
      },
    );
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  /** Idempotent; called at bootstrap. */
  start(): void {
    if (this.subscription) return;
    this.subscription = this.frames$.pipe(this.pipeline.operator).subscribe({
      next: (e) => this.events.next(e),
      error: (err) => this.logger.error(`frame source failed: ${err instanceof Error ? err.message : err}`),
      complete: () => this.logger.log('frame source completed'),
    });
  }

  /** A camera was removed: close its tracks (face.leave for each) and forget its state. */
  forgetCamera(cameraId: string): void {
    for (const e of this.pipeline.forgetCamera(cameraId)) this.events.next(e);
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.events.complete();
    this.faces.complete();
  }
}
