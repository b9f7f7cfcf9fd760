import { mergeMap, OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../contracts/events';
import type { FaceResult } from '../contracts/faces';
import { LABEL_NAMES } from '../contracts/labels';
import { toScores } from '../inference/labels';
import type { PipelineMetrics } from './pipeline.metrics';
import type { FrameWork } from './pipeline.types';

/**
 * Each processed frame -> face.enter (new tracks), one `expression` event (every face of the frame, possibly none),
 * face.leave (tracks past their grace). latencyMs = now - capture time.
 */
export function expressionEvents(options: {
  metrics: PipelineMetrics;
  now?: () => number;
  /** Last known user of each open track, so face.leave can name it. */
  users?: Map<string, string | null>;
}): OperatorFunction<FrameWork[], PipelineEvent> {
  const now = options.now ?? Date.now;
  const users = options.users ?? new Map<string, string | null>();
  return mergeMap((batch) => {
    const out: PipelineEvent[] = [];
    for (const { frame, faces, entered, left } of batch) {
      const { cameraId } = frame;
      const results: FaceResult[] = [];
      for (const f of faces) {
        users.set(`${cameraId}:${f.trackId}`, f.userId);
        if (!f.probs) continue;
        let best = 0;
        for (let i = 1; i < LABEL_NAMES.length; i++) if (f.probs[i] > f.probs[best]) best = i;
        const b = f.detection.box;
        results.push({
          trackId: f.trackId,
          box: { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.w), h: Math.round(b.h) },
          label: LABEL_NAMES[best],
          scores: toScores(f.probs),
          confidence: Math.round(f.detection.score * 1000) / 1000,
          userId: f.userId,
          personalized: f.personalized,
        });
      }
      for (const trackId of entered)
        out.push({ type: 'face.enter', cameraId, trackId, ts: frame.ts, userId: users.get(`${cameraId}:${trackId}`) ?? null });
      const t = now();
      const latencyMs = Math.max(0, t - frame.ts);
      options.metrics.eventLatency(latencyMs);
      out.push({
        type: 'expression',
        cameraId,
        frameId: frame.frameId,
        ts: frame.ts,
        latencyMs,
        width: frame.width,
        height: frame.height,
        faces: results,
      });
      for (const trackId of left) {
        const key = `${cameraId}:${trackId}`;
        out.push({ type: 'face.leave', cameraId, trackId, ts: frame.ts, userId: users.get(key) ?? null });
        users.delete(key);
      }
    }
    return out;
  });
}
