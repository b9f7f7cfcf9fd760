import { concatMap, OperatorFunction } from 'rxjs';
import type { Frame } from '../contracts/frames';
import { AnalyzeRequest, FaceDetector } from '../inference/inference.types';
import type { PipelineMetrics } from './pipeline.metrics';
import { FaceWork, FrameWork, StageError } from './pipeline.types';

export interface DetectFacesOptions {
  detector: FaceDetector;
  metrics: PipelineMetrics;
  /**
   * When the detector has analyze() (the inference pool): what to ask of it per batch. Crops and trunk features are
   * then made in the workers beside detection, in parallel, instead of on the main thread between two round trips.
   */
  analyze?: () => AnalyzeRequest;
}

/**
 * Frames of one batch (any cameras) -> one batched detector call. Runs once per batch; the batcher upstream
 * limits the batches in flight (PIPELINE_DEPTH), so this stage never queues more than that.
 */
export function detectFaces(options: DetectFacesOptions): OperatorFunction<Frame[], FrameWork[]> {
  const { detector, metrics } = options;
  return concatMap(async (frames) => {
    metrics.batch(frames.length);
    const t0 = performance.now();
    let faces: FaceWork[][];
    const analyze = detector.analyze && options.analyze;
    try {
      if (analyze) {
        const analyzed = await detector.analyze!(frames, options.analyze!());
        faces = analyzed.map((list) =>
          list.map((a) => ({ ...a, trackId: 0, userId: null, personalized: false })),
        );
      } else {
        const detections = await detector.detect(frames);
        faces = frames.map((_, i) => (detections[i] ?? []).map((detection) => ({ detection, trackId: 0, userId: null, personalized: false })));
      }
    } catch (err) {
      throw new StageError('detect', err);
    }
    metrics.inference(analyze ? 'detector+crop+trunk' : 'detector', performance.now() - t0);
    return frames.map((frame, i) => ({ frame, faces: faces[i] ?? [], entered: [], left: [] }));
  });
}
