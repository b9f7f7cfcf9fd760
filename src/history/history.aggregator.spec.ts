import { describe, expect, it } from 'vitest';
import type { ExpressionEvent } from '../contracts/events';
import type { FaceResult } from '../contracts/faces';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../contracts/labels';
import { HistoryAggregator } from './history.aggregator';

const scores = (top: LabelName, p: number): ScoresByLabel =>
  Object.fromEntries(LABEL_NAMES.map((l) => [l, l === top ? p : (1 - p) / 6])) as ScoresByLabel;
const face = (trackId: number, s: ScoresByLabel, userId: string | null = null, x = 10): FaceResult => ({
  trackId,
  box: { x, y: 20, w: 30, h: 40 },
  label: 'neutral',
  scores: s,
  confidence: 0.9,
  userId,
  personalized: false,
});
const frame = (ts: number, faces: FaceResult[], cameraId = 'cam1'): ExpressionEvent => ({
  type: 'expression',
  cameraId,
  frameId: ts,
  ts,
  latencyMs: 5,
  width: 640,
  height: 480,
  faces,
});

describe('HistoryAggregator', () => {
  it('averages a track over its interval and closes it when the track moves to the next one', () => {
    const a = new HistoryAggregator({ resolutionMs: 1000, maxPending: 100 });
    a.add(frame(10_100, [face(1, scores('happy', 0.9))]));
    a.add(frame(10_500, [face(1, scores('happy', 0.5), 'u1', 12), face(2, scores('sad', 0.8))]));
    expect(a.take()).toEqual([]);
    a.add(frame(11_000, [face(1, scores('sad', 0.9), 'u1')]));
    const rows = a.take();
    expect(rows).toHaveLength(1);
    const [r] = rows;
    expect(r).toMatchObject({ ts: 10_000, cameraId: 'cam1', trackId: 1, userId: 'u1', label: 'happy', faces: 2, frames: 2, box: { x: 12, y: 20, w: 30, h: 40 } });
    expect(r.scores.happy).toBeCloseTo(0.7, 10);
    expect(r.scores.sad).toBeCloseTo((0.1 / 6 + 0.5 / 6) / 2, 10);
    // track 2 stays open until its time is over
    expect(a.openCount).toBe(2);
    a.closeBefore(11_000);
    expect(a.take().map((x) => [x.trackId, x.ts, x.label])).toEqual([[2, 10_000, 'sad']]);
  });

  it('closes on face.leave and camera removal, ignores a late frame of a closed interval', () => {
    const a = new HistoryAggregator({ resolutionMs: 1000, maxPending: 100 });
    a.add(frame(5_000, [face(1, scores('fear', 0.6))]));
    a.add(frame(5_000, [face(7, scores('fear', 0.6))], 'cam2'));
    a.closeTrack('cam1', 1);
    expect(a.take().map((x) => x.cameraId)).toEqual(['cam1']);
    a.add(frame(6_000, [face(7, scores('angry', 0.6))], 'cam2'));
    a.add(frame(5_900, [face(7, scores('happy', 1))], 'cam2')); // late: its interval (5 s) is already written
    a.closeCamera('cam2');
    const rows = a.take();
    expect(rows.map((x) => [x.ts, x.label, x.frames])).toEqual([
      [5_000, 'fear', 1],
      [6_000, 'angry', 1],
    ]);
  });

  it('never writes an interval twice: a frame later than the timer that closed its interval is dropped', () => {
    const a = new HistoryAggregator({ resolutionMs: 1000, maxPending: 100 });
    a.add(frame(3_100, [face(1, scores('happy', 0.9))]));
    a.closeBefore(4_000); // the flush timer: interval 3 s is over
    a.add(frame(3_900, [face(1, scores('sad', 0.9))])); // arrives after that (slow pipeline)
    a.add(frame(4_100, [face(1, scores('sad', 0.9))]));
    a.closeAll();
    expect(a.take().map((r) => [r.ts, r.label, r.frames])).toEqual([
      [3_000, 'happy', 1],
      [4_000, 'sad', 1],
    ]);
  });

  it('bounds the rows waiting to be written and counts the ones it drops', () => {
    const a = new HistoryAggregator({ resolutionMs: 1000, maxPending: 3 });
    for (let t = 0; t < 6; t++) a.add(frame(t * 1000, [face(1, scores('happy', 0.9))]));
    a.closeAll();
    expect(a.pendingCount).toBe(3);
    expect(a.dropped).toBe(3);
    expect(a.take().map((r) => r.ts)).toEqual([0, 1000, 2000]);
  });

  it('forgets a deleted user, open and waiting rows alike', () => {
    const a = new HistoryAggregator({ resolutionMs: 1000, maxPending: 100 });
    a.add(frame(0, [face(1, scores('happy', 0.9), 'u1'), face(2, scores('sad', 0.9), 'u2')]));
    a.add(frame(1000, [face(1, scores('happy', 0.9), 'u1')]));
    a.forgetUser('u1');
    a.closeAll();
    expect(a.take().map((r) => r.userId)).toEqual(['u2']);
  });
});
