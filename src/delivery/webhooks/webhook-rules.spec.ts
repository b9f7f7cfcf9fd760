import { describe, expect, it } from 'vitest';
import type { ExpressionEvent } from '../../contracts/events';
import type { FaceResult } from '../../contracts/faces';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../../contracts/labels';
import { RuleSpec, WebhookRuleEngine } from './webhook-rules';

/** Virtual time: every event carries its own ts, the engine has no clock. */
function face(trackId: number, scores: Partial<ScoresByLabel>, userId: string | null = null): FaceResult {
  const full = Object.fromEntries(LABEL_NAMES.map((l) => [l, scores[l] ?? 0])) as ScoresByLabel;
  const label = LABEL_NAMES.reduce((a, b) => (full[b] > full[a] ? b : a)) as LabelName;
  return { trackId, box: { x: 0, y: 0, w: 10, h: 10 }, label, scores: full, confidence: 0.9, userId, personalized: false };
}
const frame = (ts: number, faces: FaceResult[], cameraId = 'cam1'): ExpressionEvent => ({
  type: 'expression',
  cameraId,
  frameId: ts,
  ts,
  latencyMs: 1,
  width: 100,
  height: 100,
  faces,
});
const rule = (over: Partial<RuleSpec> = {}): RuleSpec => ({
  id: 'r1',
  cameraId: null,
  userId: null,
  label: 'happy',
  minScore: 0.7,
  minDurationMs: 2000,
  cooldownMs: 0,
  ...over,
});

/** Frames every 100 ms from `from` to `to` (inclusive) with one face of the given happy score; the ts of each firing. */
function run(engine: WebhookRuleEngine, from: number, to: number, happy: number, trackId = 1, cameraId = 'cam1'): number[] {
  const fired: number[] = [];
  for (let t = from; t <= to; t += 100) {
    for (const f of engine.onExpression(frame(t, [face(trackId, { happy, neutral: 1 - happy })], cameraId))) fired.push(f.ts);
  }
  return fired;
}

describe('WebhookRuleEngine', () => {
  it('fires once when the score has held for minDurationMs, then not again while the episode lasts', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule()]);
    expect(run(e, 0, 1900, 0.8)).toEqual([]);
    const firings = e.onExpression(frame(2000, [face(1, { happy: 0.8, neutral: 0.2 })]));
    expect(firings).toEqual([
      { ruleId: 'r1', ts: 2000, event: { cameraId: 'cam1', trackId: 1, userId: null, label: 'happy', score: 0.8, durationMs: 2000 } },
    ]);
    expect(run(e, 2100, 10_000, 0.9)).toEqual([]);
  });

  it('re-arms when the condition stops: a dip below minScore starts a new episode that must hold again', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule()]);
    expect(run(e, 0, 3000, 0.8)).toEqual([2000]);
    expect(run(e, 3100, 3100, 0.5)).toEqual([]);
    expect(run(e, 3200, 6000, 0.8)).toEqual([5200]);
  });

  it('a dip shorter than minDurationMs still resets the clock (continuously means continuously)', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule()]);
    expect(run(e, 0, 1500, 0.8)).toEqual([]);
    expect(run(e, 1600, 1600, 0.1)).toEqual([]);
    expect(run(e, 1700, 3600, 0.8)).toEqual([]); // the new episode began at 1700: due at 3700
    expect(run(e, 3700, 3700, 0.8)).toEqual([3700]);
  });

  it('a track missing from a frame of its camera, or face.leave, ends the episode', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule({ minDurationMs: 0 })]);
    expect(run(e, 0, 500, 0.9)).toEqual([0]);
    e.onExpression(frame(600, [])); // the face is gone from this frame
    expect(run(e, 700, 800, 0.9)).toEqual([700]);
    e.onFaceLeave('cam1', 1);
    expect(run(e, 900, 900, 0.9)).toEqual([900]);
    // a frame of ANOTHER camera does not end cam1's episode
    e.onExpression(frame(950, [], 'cam2'));
    expect(run(e, 1000, 1000, 0.9)).toEqual([]);
    e.onCameraRemoved('cam1');
    expect(run(e, 1100, 1100, 0.9)).toEqual([1100]);
  });

  it('the same track id on two cameras is two tracks: ending one never ends the other', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule({ minDurationMs: 1000 })]);
    expect(run(e, 0, 500, 0.9, 1, 'cam1')).toEqual([]);
    expect(run(e, 0, 500, 0.9, 1, 'cam2')).toEqual([]);
    e.onExpression(frame(600, [], 'cam2')); // cam2's track 1 is gone from its frame: its episode ends
    e.onFaceLeave('cam2', 1);
    expect(run(e, 700, 1000, 0.9, 1, 'cam1')).toEqual([1000]); // cam1's track 1 held since 0
    expect(run(e, 700, 1700, 0.9, 1, 'cam2')).toEqual([1700]); // cam2's started again at 700
  });

  it('cooldownMs: no firing within it; an episode still matching when it ends fires then', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule({ minDurationMs: 0, cooldownMs: 5000 })]);
    expect(run(e, 0, 0, 0.9)).toEqual([0]);
    expect(run(e, 100, 100, 0.1)).toEqual([]); // re-armed
    expect(run(e, 200, 4900, 0.9)).toEqual([]); // within the cooldown
    expect(run(e, 5000, 6000, 0.9)).toEqual([5000]); // the pending episode fires once when it ends
  });

  it('episodes are per track: two faces each fire once; the cooldown is per rule', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule({ minDurationMs: 0 })]);
    const both = (t: number) => e.onExpression(frame(t, [face(1, { happy: 0.9 }), face(2, { happy: 0.9 })])).map((f) => f.event.trackId);
    expect(both(0)).toEqual([1, 2]);
    expect(both(100)).toEqual([]);
    e.setRules([rule({ minDurationMs: 0, cooldownMs: 1000 })]); // criteria changed: state starts afresh
    expect(both(200)).toEqual([1]);
    expect(both(300)).toEqual([]);
    expect(both(1200)).toEqual([2]);
  });

  it('filters by camera and by user, and a label-less rule follows the dominant label', () => {
    const e = new WebhookRuleEngine();
    e.setRules([
      rule({ id: 'cam2-only', cameraId: 'cam2', minDurationMs: 0 }),
      rule({ id: 'anna', userId: 'anna', minDurationMs: 0 }),
      rule({ id: 'any', label: null, minScore: 0.6, minDurationMs: 0 }),
    ]);
    const ids = (ev: ExpressionEvent) => e.onExpression(ev).map((f) => `${f.ruleId}:${f.event.label}`);
    expect(ids(frame(0, [face(1, { happy: 0.9 }, 'bob')]))).toEqual(['any:happy']);
    expect(ids(frame(0, [face(7, { happy: 0.9 }, 'anna')], 'cam3'))).toEqual(['anna:happy', 'any:happy']);
    expect(ids(frame(0, [face(3, { happy: 0.9 })], 'cam2'))).toEqual(['cam2-only:happy', 'any:happy']);
    // the dominant label changes: a new episode for the label-less rule
    expect(ids(frame(100, [face(1, { sad: 0.9 }, 'bob')]))).toEqual(['any:sad']);
    expect(ids(frame(200, [face(1, { sad: 0.9 }, 'bob')]))).toEqual([]);
  });

  it('unchanged rules keep their state across setRules; removed rules forget it', () => {
    const e = new WebhookRuleEngine();
    e.setRules([rule()]);
    run(e, 0, 1500, 0.8);
    e.setRules([rule(), rule({ id: 'r2' })]);
    expect(e.onExpression(frame(2000, [face(1, { happy: 0.8 })])).map((f) => f.ruleId)).toEqual(['r1']);
    e.setRules([]);
    expect(e.ruleCount).toBe(0);
    expect(e.onExpression(frame(2100, [face(1, { happy: 0.8 })]))).toEqual([]);
  });
});
