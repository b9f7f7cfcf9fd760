import { map, OperatorFunction } from 'rxjs';
import { FaceTracker, TrackerOptions } from './face-tracker';
import type { FrameWork } from './pipeline.types';

/** One FaceTracker per camera, created on the camera's first frame. */
export class TrackerRegistry {
  private readonly trackers = new Map<string, FaceTracker>();
  constructor(private readonly options: TrackerOptions) {}

  for(cameraId: string): FaceTracker {
    let t = this.trackers.get(cameraId);
    if (!t) this.trackers.set(cameraId, (t = new FaceTracker(this.options)));
    return t;
  }

  /** Forget a camera; returns the track ids that were still open. */
  remove(cameraId: string): number[] {
    const ids = this.trackers.get(cameraId)?.clear() ?? [];
    this.trackers.delete(cameraId);
    return ids;
  }
}

/** Give every face its camera's track id and note which tracks entered and left. Pure CPU, never falls behind. */
export function trackFaces(options: { trackers: TrackerRegistry }): OperatorFunction<FrameWork[], FrameWork[]> {
  return map((batch) => {
    for (const fw of batch) {
      const a = options.trackers.for(fw.frame.cameraId).update(fw.faces.map((f) => f.detection.box));
      fw.faces.forEach((f, i) => (f.trackId = a.trackIds[i]));
      fw.entered = a.entered;
      fw.left = a.left;
    }
    return batch;
  });
}
