import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The pipeline's counters, in a prom-client Registry of their own (the delivery module serves `registry.metrics()`
 * at /metrics, or merges it with Registry.merge). `snapshot()` gives the same numbers as plain values for the
 * benchmark and tests.
 */
export class PipelineMetrics {
  readonly registry = new Registry();

  private readonly framesIn = new Counter({
    name: 'iexpr_frames_in_total',
    help: 'Frames that reached the pipeline, per camera',
    labelNames: ['camera'] as const,
    registers: [this.registry],
  });
  private readonly framesDropped = new Counter({
    name: 'iexpr_frames_dropped_total',
    help: 'Frames dropped, per camera and reason (latest_wins: replaced by a newer frame while the pipeline was busy)',
    labelNames: ['camera', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly framesProcessed = new Counter({
    name: 'iexpr_frames_processed_total',
    help: 'Frames that went through detection',
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'iexpr_batch_size',
    help: 'Frames per detector batch',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64],
    registers: [this.registry],
  });
  private readonly inferenceMs = new Histogram({
    name: 'iexpr_inference_ms',
    help: 'Wall time of one batched model call (detector includes letterbox and decode; detector+crop+trunk is the inference pool doing all three in one call)',
    labelNames: ['model'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  private readonly faces = new Counter({
    name: 'iexpr_faces_total',
    help: 'Faces classified (rate() gives faces/s)',
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'iexpr_event_latency_ms',
    help: 'Capture to expression event, ms',
    buckets: [10, 25, 50, 100, 150, 250, 500, 1000, 2500],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'iexpr_pipeline_errors_total',
    help: 'Batches that failed, per stage (the stream goes on)',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });

  private readonly identityEmbedded = new Counter({
    name: 'iexpr_identity_embeddings_total',
    help: 'Faces aligned and embedded for live recognition (IDENTITY=face)',
    registers: [this.registry],
  });
  private readonly identityRejected = new Counter({
    name: 'iexpr_identity_rejected_total',
    help: 'Faces asked for an embedding whose frame was not good enough (small, pose, blurred); retried on a later frame',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly identityDeferred = new Counter({
    name: 'iexpr_identity_deferred_total',
    help: 'Tracks due for an embedding left for a later frame because the batch had IDENTITY_MAX_PER_BATCH already',
    registers: [this.registry],
  });
  private readonly identityLoad = new Gauge({
    name: 'iexpr_identity_pipeline_load',
    help: 'Share of the time with a batch in flight (moving average, 2 s) as the identity scheduler measures it: below 0.7 re-checks run every IDENTITY_RECHECK_MS, above it at the frame budget',
    registers: [this.registry],
  });

  private readonly totals = {
    framesIn: 0,
    framesProcessed: 0,
    faces: 0,
    errors: 0,
    droppedByCamera: new Map<string, number>(),
    batchSizes: new Map<number, number>(),
    identityEmbedded: 0,
    identityDeferred: 0,
    identityLoad: 0,
  };

  frameIn(cameraId: string): void {
    this.framesIn.inc({ camera: cameraId });
    this.totals.framesIn++;
  }

  frameDropped(cameraId: string, reason: 'latest_wins' | 'error'): void {
    this.framesDropped.inc({ camera: cameraId, reason });
    this.totals.droppedByCamera.set(cameraId, (this.totals.droppedByCamera.get(cameraId) ?? 0) + 1);
  }

  batch(size: number): void {
    this.batchSize.observe(size);
    this.framesProcessed.inc(size);
    this.totals.framesProcessed += size;
    this.totals.batchSizes.set(size, (this.totals.batchSizes.get(size) ?? 0) + 1);
  }

  inference(model: 'detector' | 'detector+crop+trunk' | 'trunk' | 'head' | 'identify', ms: number): void {
    this.inferenceMs.observe({ model }, ms);
  }

  identity(result: 'embedded' | 'small' | 'pose' | 'blurred'): void {
    if (result === 'embedded') {
      this.identityEmbedded.inc();
      this.totals.identityEmbedded++;
    } else this.identityRejected.inc({ reason: result });
  }

  deferred(n: number): void {
    this.identityDeferred.inc(n);
    this.totals.identityDeferred += n;
  }

  /** The identity scheduler's measured load, at each batch it plans. */
  pipelineLoad(load: number): void {
    this.identityLoad.set(load);
    this.totals.identityLoad = load;
  }

  facesClassified(n: number): void {
    this.faces.inc(n);
    this.totals.faces += n;
  }

  eventLatency(ms: number): void {
    this.latency.observe(ms);
  }

  error(stage: string): void {
    this.errors.inc({ stage });
    this.totals.errors++;
  }

  snapshot(): {
    framesIn: number;
    framesProcessed: number;
    framesDropped: number;
    droppedByCamera: Record<string, number>;
    faces: number;
    errors: number;
    batchSizes: Record<number, number>;
    identityEmbedded: number;
    identityDeferred: number;
    /** Last identity-scheduler load seen (0..1). */
    identityLoad: number;
  } {
    const t = this.totals;
    return {
      framesIn: t.framesIn,
      framesProcessed: t.framesProcessed,
      framesDropped: [...t.droppedByCamera.values()].reduce((a, b) => a + b, 0),
      droppedByCamera: Object.fromEntries(t.droppedByCamera),
      faces: t.faces,
      errors: t.errors,
      batchSizes: Object.fromEntries([...t.batchSizes].sort((a, b) => a[0] - b[0])),
      identityEmbedded: t.identityEmbedded,
      identityDeferred: t.identityDeferred,
      identityLoad: t.identityLoad,
    };
  }
}
