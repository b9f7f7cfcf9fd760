import { concatMap, OperatorFunction } from 'rxjs';
import type { Frame } from '../contracts/frames';
import type { FaceIdentifier, IdentityRequest } from '../inference/embedding/identify-faces';
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
   * the request (the workers embed); without, `identifier` embeds them here, after detection (INFERENCE_WORKERS=0).
   * `identity.enrol` flags the frames whose every face is also enrolled (calibration capture), the same way.
   */
  identity?: IdentityRequest;
  identifier?: FaceIdentifier | null;
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
          list.map((a) => ({ ...a, trackId: 0, userId: null, personalized: false })),
        );
      } else {
        const detections = await detector.detect(frames);
        faces = frames.map((_, i) => (detections[i] ?? []).map((detection) => ({ detection, trackId: 0, userId: null, personalized: false })));
        if (options.identity && options.identifier) {
          const t1 = performance.now();
          const { identity, enrolment } = await options.identifier.identifyAndEnrol(frames, detections, options.identity);
          faces.forEach((list, i) =>
            list.forEach((f, k) => {
              f.identity = identity[i]?.[k];
              if (enrolment[i]?.[k]) f.enrolment = enrolment[i][k];
            }),
          );
          metrics.inference('identify', performance.now() - t1);
        }
      }
    } catch (err) {
      throw new StageError('detect', err);
    }
    metrics.inference(analyze ? 'detector+crop+trunk' : 'detector', performance.now() - t0);
    return frames.map((frame, i) => ({ frame, faces: faces[i] ?? [], entered: [], left: [] }));
  });
}
