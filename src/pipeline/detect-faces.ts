import { concatMap, OperatorFunction } from 'rxjs';
import type { Frame } from '../contracts/frames';
import { IdentityRequest, prepareFaces } from '../inference/embedding/identify-faces';
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
  /**
   * Live recognition: the faces to embed in this batch (the identity scheduler's plan). With analyze() it travels in
   * the request (the workers check and align them); without, they are checked and aligned here, after detection
   * (INFERENCE_WORKERS=0). `identity.enrol` flags the frames whose every face is also enrolled (calibration capture),
   * the same way. The views are embedded later (embedEnrolments, recognizeFaces).
   */
  identity?: IdentityRequest;
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
        const analyzed = await detector.analyze!(frames, { ...options.analyze!(), identity: options.identity });
        faces = analyzed.map((list) =>
          list.map(({ enrolment, ...a }) => ({ ...a, ...(enrolment ? { toEnrol: enrolment } : {}), trackId: 0, userId: null, personalized: false })),
        );
      } else {
        const detections = await detector.detect(frames);
        faces = frames.map((_, i) => (detections[i] ?? []).map((detection) => ({ detection, trackId: 0, userId: null, personalized: false })));
        if (options.identity) {
          const { identity, enrolment } = prepareFaces(frames, detections, options.identity);
          faces.forEach((list, i) =>
            list.forEach((f, k) => {
              if (identity[i]?.[k]) f.identity = identity[i][k];
              if (enrolment[i]?.[k]) f.toEnrol = enrolment[i][k];
            }),
          );
        }
      }
    } catch (err) {
      throw new StageError('detect', err);
    }
    metrics.inference(analyze ? 'detector+crop+trunk' : 'detector', performance.now() - t0);
    return frames.map((frame, i) => ({ frame, faces: faces[i] ?? [], entered: [], left: [] }));
  });
}
