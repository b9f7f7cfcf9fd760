import { concatMap, OperatorFunction } from 'rxjs';
import { embedPrepared, type ViewEmbedder } from '../inference/embedding/identify-faces';
import type { PipelineMetrics } from './pipeline.metrics';
import { FrameWork, StageError } from './pipeline.types';

/**
 * Calibration capture (IDENTITY=face): the faces prepared for enrolment (`toEnrol`, the frames of a camera whose
 * calibration still needs samples) are embedded before the batch goes on, in one embedder run, because the sample a
 * frame becomes stores its face's embedding with it. A face the identity scheduler also asked about shares that run
 * (`identityEmbedding`). Batches without such faces pass through untouched; only calibrating cameras ever wait here.
 * A failed run fails the batch (counted as an error of stage "identify"), as a failed detection would.
 */
export function embedEnrolments(options: { embedder: ViewEmbedder; metrics: PipelineMetrics }): OperatorFunction<FrameWork[], FrameWork[]> {
  const { embedder, metrics } = options;
  return concatMap(async (batch) => {
    const faces = batch.flatMap((fw) => fw.faces.flatMap((face) => (face.toEnrol ? [{ face, prepared: face.toEnrol }] : [])));
    if (faces.length === 0) return batch;
    const t0 = performance.now();
    try {
      const enrolments = await embedPrepared(
        faces.map((f) => f.prepared),
        embedder,
      );
      faces.forEach(({ face, prepared }, i) => {
        const e = enrolments[i];
        face.enrolment = e;
        // the same prepared views (prepareFaces shares them): the scheduler's question is answered by this run too
        if ('embedding' in e && 'views' in prepared && face.identity && 'views' in face.identity && face.identity.views[0] === prepared.views[0]) {
          face.identityEmbedding = e.embedding;
        }
      });
    } catch (err) {
      throw new StageError('identify', err);
    }
    metrics.inference('identify', performance.now() - t0);
    return batch;
  });
}
