import { map, OperatorFunction } from 'rxjs';
import type { FrameWork } from './pipeline.types';
import { ScoreSmoother } from './score-smoother';

/** EMA of probabilities per (camera, track); state is dropped when the track leaves. Pure CPU. */
export function smoothScores(options: { smoother: ScoreSmoother }): OperatorFunction<FrameWork[], FrameWork[]> {
  const { smoother } = options;
  return map((batch) => {
    for (const fw of batch) {
      for (const f of fw.faces) if (f.probs) f.probs = smoother.apply(`${fw.frame.cameraId}:${f.trackId}`, f.probs);
      for (const id of fw.left) smoother.forget(`${fw.frame.cameraId}:${id}`);
    }
    return batch;
  });
}
