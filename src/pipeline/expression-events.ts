import { mergeMap, OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../contracts/events';
import type { FaceIdentity, FaceResult } from '../contracts/faces';
import { LABEL_NAMES } from '../contracts/labels';
import { toScores } from '../inference/labels';
import type { PipelineMetrics } from './pipeline.metrics';
import type { FrameWork } from './pipeline.types';

/**
 * Each processed frame -> face.enter (new tracks), one `expression` event (every face of the frame, possibly none),
 * face.leave (tracks past their grace). latencyMs = now - capture time.
 * With `identity` (IDENTITY=face): every face and face.enter also carry `personalized` and `identity` (why this user),
 * and an open track whose user changes, where the old or the new answer came from its face, gets an
 * `identity.changed` before the frame's expression event. Without it, the events are exactly as before issue 14.
 */
export function expressionEvents(options: {
  metrics: PipelineMetrics;
  now?: () => number;
  /** Last known user of each open track, so face.leave can name it. */
  users?: Map<string, string | null>;
  /** Carry `identity` fields and emit identity.changed (IDENTITY=face). */
  identity?: boolean;
  /** Last `identity` of each open track (with `identity`), dropped with `users`' entry. */
  identities?: Map<string, FaceIdentity | null>;
}): OperatorFunction<FrameWork[], PipelineEvent> {
  const now = options.now ?? Date.now;
  const users = options.users ?? new Map<string, string | null>();
  const identities = options.identities ?? new Map<string, FaceIdentity | null>();
  const withIdentity = options.identity ?? false;
  return mergeMap((batch) => {
    const out: PipelineEvent[] = [];
    for (const { frame, faces, entered, left } of batch) {
      const { cameraId } = frame;
      const results: FaceResult[] = [];
      const changed: PipelineEvent[] = [];
      for (const f of faces) {
        const key = `${cameraId}:${f.trackId}`;
        if (withIdentity) {
          const identity = f.resolved ?? null;
          const before = users.get(key);
          if (before !== undefined && before !== f.userId && (identities.get(key)?.source === 'face' || identity?.source === 'face')) {
            changed.push({ type: 'identity.changed', cameraId, trackId: f.trackId, ts: frame.ts, userId: f.userId, previousUserId: before, identity });
          }
          identities.set(key, identity);
        }
        users.set(key, f.userId);
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
          ...(withIdentity ? { identity: f.resolved ?? null } : {}),
        });
      }
      for (const trackId of entered) {
        const key = `${cameraId}:${trackId}`;
        const userId = users.get(key) ?? null;
        if (!withIdentity) out.push({ type: 'face.enter', cameraId, trackId, ts: frame.ts, userId });
        else {
          const personalized = faces.find((f) => f.trackId === trackId)?.personalized ?? false;
          out.push({ type: 'face.enter', cameraId, trackId, ts: frame.ts, userId, personalized, identity: identities.get(key) ?? null });
        }
      }
      out.push(...changed);
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
        identities.delete(key);
      }
    }
    return out;
  });
}
