import { map, OperatorFunction } from 'rxjs';
import type { FaceRecognizer } from '../inference/face.recognizer';
import { IdentityScheduler, trackKey } from './identity-scheduler';
import type { PipelineMetrics } from './pipeline.metrics';
import type { FrameWork } from './pipeline.types';

/**
 * After tracking (IDENTITY=face): each face's position goes to the identity scheduler; a new embedding (made in the
 * workers for the faces the scheduler asked for) joins its track's; a track with a new embedding, or decided under an
 * older gallery, is decided again by the recogniser over its recent embeddings (FaceMatcher: per-user distances
 * averaged over the frames, threshold and margin). Every face then carries its track's decision to the classify stage,
 * where the HeadResolver's precedence turns it into a user. Pure CPU (a few hundred 128-d distances), never falls behind.
 */
export function recognizeFaces(options: {
  scheduler: IdentityScheduler;
  recognizer: FaceRecognizer;
  metrics: PipelineMetrics;
}): OperatorFunction<FrameWork[], FrameWork[]> {
  const { scheduler, recognizer, metrics } = options;
  return map((batch) => {
    for (const fw of batch) {
      const { cameraId } = fw.frame;
      for (const trackId of fw.left) scheduler.forget(trackKey(cameraId, trackId));
      for (const face of fw.faces) {
        const key = trackKey(cameraId, face.trackId);
        const { box, landmarks } = face.detection;
        scheduler.observe(key, box, landmarks);
        let fresh = false;
        if (face.identity) {
          if ('embedding' in face.identity) {
            scheduler.record(key, face.identity.embedding, Math.min(box.w, box.h));
            metrics.identity('embedded');
            fresh = true;
          } else metrics.identity(face.identity.rejected);
        }
        const version = recognizer.version;
        if (scheduler.stale(key, version, fresh)) scheduler.decide(key, recognizer.match(scheduler.embeddings(key)), version);
        face.recognition = scheduler.decision(key);
      }
    }
    return batch;
  });
}
