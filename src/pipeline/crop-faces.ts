import { map, OperatorFunction } from 'rxjs';
import type { FaceObservation } from '../contracts/faces';
import { cropFace, CropRule } from '../inference/face-crop';
import type { FrameWork } from './pipeline.types';

export interface CropFacesOptions {
  rule: CropRule;
  /**
   * Called with each face when someone watches (faces$ has subscribers); `large` asks for the blur-check crop.
   * `enrol(cameraId)`: whether that camera's faces should also be aligned and embedded for the gallery (calibration
   * capture, FaceObservationDemand); asked when a batch is planned, the result travels as FaceObservation.enrolment.
   */
  observe?: { wanted: () => boolean; next: (face: FaceObservation) => void; enrol?: (cameraId: string) => boolean };
}

export const LARGE_CROP_SIDE = 96;

/**
 * Cut every face to the classifier's 48x48 gray input (preprocess.ts rules), unless the detector already did it in
 * its workers (analyze()); tell observers about each face. Pure CPU, never falls behind.
 */
export function cropFaces(options: CropFacesOptions): OperatorFunction<FrameWork[], FrameWork[]> {
  return map((batch) => {
    const watching = options.observe?.wanted() ?? false;
    for (const { frame, faces } of batch) {
      for (const f of faces) {
        if (!f.crop48 || !f.region || (watching && !f.cropLarge)) {
          const c = cropFace(frame, f.detection.box, options.rule, watching ? LARGE_CROP_SIDE : 0, f.detection.landmarks);
          f.crop48 = c.crop48;
          f.region = c.region;
          f.cropLarge = c.cropLarge;
        }
        if (watching)
          options.observe!.next({
            cameraId: frame.cameraId,
            frameId: frame.frameId,
            ts: frame.ts,
            trackId: f.trackId,
            box: f.detection.box,
            region: f.region,
            confidence: f.detection.score,
            landmarks: f.detection.landmarks,
            crop48: f.crop48,
            cropLarge: f.cropLarge,
            ...(f.enrolment ? { enrolment: f.enrolment } : {}),
          });
      }
    }
    return batch;
  });
}
