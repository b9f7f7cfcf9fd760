import { map, OperatorFunction } from 'rxjs';
import type { ViewEmbedder } from '../inference/embedding/identify-faces';
import type { FaceRecognizer } from '../inference/face.recognizer';
import { IdentityScheduler, trackKey } from './identity-scheduler';
import type { PipelineMetrics } from './pipeline.metrics';
import type { FrameWork } from './pipeline.types';

/**
 * After tracking (IDENTITY=face): each face's position goes to the identity scheduler. The faces it asked about come
 * with their aligned views (made in the workers); the batch's views go to the embedder in one run and the batch goes on
 * at once: the ResNet (~6 crops per face) runs beside the following batches, on its own worker thread, instead of
 * holding this one (docs/IDENTITY.md "Live recognition"). Each embedding joins its track's when it arrives; a track
 * with a new embedding, or decided under an older gallery, is decided again at its next frame by the recogniser over
 * its recent embeddings (FaceMatcher: per-user distances averaged over the frames, threshold and margin). Every face
 * then carries its track's decision to the classify stage, where the HeadResolver's precedence turns it into a user.
 * On the main thread: a few hundred 128-d distances per decision, never falls behind. A failed embedding run is
 * counted (an error of stage "identify") and its tracks are asked for again later.
 */
export function recognizeFaces(options: {
  scheduler: IdentityScheduler;
  recognizer: FaceRecognizer;
  embedder: ViewEmbedder;
  metrics: PipelineMetrics;
}): OperatorFunction<FrameWork[], FrameWork[]> {
  const { scheduler, recognizer, embedder, metrics } = options;
  const embed = (asked: { key: string; token: number; side: number; views: Uint8Array[] }[]) => {
    const t0 = performance.now();
    embedder.embedFaces(asked.map((a) => a.views)).then(
      (embeddings) => {
        metrics.inference('identify', performance.now() - t0);
        asked.forEach((a, i) => {
          if (scheduler.embedded(a.key, a.token, embeddings[i], a.side)) metrics.identity('embedded');
        });
      },
      () => {
        for (const a of asked) scheduler.embedded(a.key, a.token, null, a.side);
        metrics.error('identify');
      },
    );
  };
  return map((batch) => {
    const asked: { key: string; token: number; side: number; views: Uint8Array[] }[] = [];
    for (const fw of batch) {
      const { cameraId } = fw.frame;
      for (const trackId of fw.left) scheduler.forget(trackKey(cameraId, trackId));
      for (const face of fw.faces) {
        const key = trackKey(cameraId, face.trackId);
        const { box, landmarks } = face.detection;
        scheduler.observe(key, box, landmarks);
        const side = Math.min(box.w, box.h);
        if (face.identityEmbedding) {
          // embedded with its enrolment (calibration capture): recorded now
          scheduler.record(key, face.identityEmbedding, side);
          metrics.identity('embedded');
        } else if (face.identity) {
          if ('views' in face.identity) asked.push({ key, token: scheduler.dispatched(key), side, views: face.identity.views });
          else metrics.identity(face.identity.rejected);
        }
        const version = recognizer.version;
        if (scheduler.stale(key, version)) scheduler.decide(key, recognizer.match(scheduler.embeddings(key)), version);
        face.recognition = scheduler.decision(key);
      }
    }
    if (asked.length > 0) embed(asked);
    return batch;
  });
}
