import { concatMap, OperatorFunction } from 'rxjs';
import type { Frame } from '../ingest/frame';
import type { PipelineMetrics } from './pipeline.metrics';
import { FaceDetector, FrameWork, StageError } from './pipeline.types';

/**
 * Frames of one batch (any cameras) -> one batched detector call. Runs once per batch; the batcher upstream
 * guarantees a single batch in flight, so this stage never queues.
 */
export function detectFaces(options: { detector: FaceDetector; metrics: PipelineMetrics }): OperatorFunction<Frame[], FrameWork[]> {
  return concatMap(async (frames) => {
    options.metrics.batch(frames.length);
    const t0 = performance.now();
    let detections;
    try {
      detections = await options.detector.detect(frames);
    } catch (err) {
      throw new StageError('detect', err);
    }
    options.metrics.inference('detector', performance.now() - t0);
    return frames.map((frame, i) => ({
      frame,
      faces: (detections[i] ?? []).map((detection) => ({ detection, trackId: 0, userId: null, personalized: false })),
      entered: [],
      left: [],
    }));
  });
}
