import type { ExpressionEvent } from '../../contracts/events';
import type { LabelName } from '../../contracts/labels';
import type { WebhookEventPayload, WebhookView } from '../../contracts/webhooks';

/** What the engine needs of a rule (no URL, no secret: it only decides when a rule fires). A null label: the face's dominant one. */
export type RuleSpec = Pick<WebhookView, 'id' | 'cameraId' | 'userId' | 'label' | 'minScore' | 'minDurationMs' | 'cooldownMs'>;

/** One rule firing for one face. `ts` is the expression event's time (frame capture, ms epoch). */
export interface Firing {
  ruleId: string;
  ts: number;
  event: WebhookEventPayload;
}

/** One rule's view of one track: since when the condition has held, and whether this episode has fired yet. */
interface Episode {
  since: number;
  label: LabelName;
  fired: boolean;
  /** The engine's frame counter when the condition last held: an episode not matched in its camera's latest frame ends. */
  frame: number;
}

/** One rule's episodes, by camera, then by track: a frame touches only its own camera's tracks. */
type Episodes = Map<string, Map<number, Episode>>;

/**
 * When rules fire, from expression events alone (pure: no I/O, no clock; time is the events' `ts`).
 *
 * A rule matches a face when the face is on the rule's camera (or belongs to its user) and the score of its label
 * (or of the face's dominant label when the rule names none) is ≥ minScore. An episode is a run of consecutive frames
 * of one track in which the rule matches; it fires once, as soon as it has lasted minDurationMs, and re-arms when the
 * condition stops: the score drops below minScore, the dominant label changes (label-less rules), the track is missing
 * from a frame of its camera, or the face leaves. cooldownMs is per rule: within it after a firing, no episode fires;
 * an episode that is still matching when the cooldown ends fires then (it has not been reported yet).
 *
 * It runs on every frame of every camera (the event loop that serves the cameras), so a frame allocates nothing but
 * its firings and the episodes that begin: episodes are kept per camera and stamped with a frame counter, and the
 * ones a frame did not stamp are the ones that ended.
 */
export class WebhookRuleEngine {
  private rules: RuleSpec[] = [];
  /** rule id → camera → track → episode. */
  private readonly episodes = new Map<string, Episodes>();
  private readonly lastFired = new Map<string, number>();
  private frame = 0;

  /** Replaces the rules. A rule whose id and criteria are unchanged keeps its episodes and cooldown; others start afresh. */
  setRules(rules: RuleSpec[]): void {
    const before = new Map(this.rules.map((r) => [r.id, r]));
    this.rules = rules.map((r) => ({ ...r }));
    const kept = new Set<string>();
    for (const r of this.rules) {
      const old = before.get(r.id);
      if (old && sameCriteria(old, r)) kept.add(r.id);
    }
    for (const id of [...this.episodes.keys()]) if (!kept.has(id)) this.episodes.delete(id);
    for (const id of [...this.lastFired.keys()]) if (!kept.has(id)) this.lastFired.delete(id);
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  /** One processed frame of a camera: the firings it causes, in rule order. */
  onExpression(e: ExpressionEvent): Firing[] {
    const fired: Firing[] = [];
    const frame = ++this.frame;
    for (const rule of this.rules) {
      if (rule.cameraId !== null && rule.cameraId !== e.cameraId) continue;
      let tracks = this.episodes.get(rule.id)?.get(e.cameraId);
      for (const face of e.faces) {
        if (rule.userId !== null && face.userId !== rule.userId) continue;
        const label = rule.label ?? face.label;
        const score = face.scores[label] ?? 0;
        if (score < rule.minScore) continue; // not stamped: the episode (if any) ends below
        tracks ??= this.tracksOf(rule.id, e.cameraId);
        let ep = tracks.get(face.trackId);
        if (!ep || ep.label !== label) {
          ep = { since: e.ts, label, fired: false, frame };
          tracks.set(face.trackId, ep);
        }
        ep.frame = frame;
        const durationMs = e.ts - ep.since;
        if (ep.fired || durationMs < rule.minDurationMs) continue;
        const last = this.lastFired.get(rule.id);
        if (last !== undefined && e.ts - last < rule.cooldownMs) continue;
        ep.fired = true;
        this.lastFired.set(rule.id, e.ts);
        fired.push({
          ruleId: rule.id,
          ts: e.ts,
          event: { cameraId: e.cameraId, trackId: face.trackId, userId: face.userId, label, score, durationMs },
        });
      }
      // Tracks of this camera that did not match in this frame: their episodes end (the rule re-arms for them).
      if (tracks) for (const [trackId, ep] of tracks) if (ep.frame !== frame) tracks.delete(trackId);
    }
    return fired;
  }

  /** A face left: its episodes end. */
  onFaceLeave(cameraId: string, trackId: number): void {
    for (const cameras of this.episodes.values()) cameras.get(cameraId)?.delete(trackId);
  }

  /** A camera was removed: every episode on it ends. */
  onCameraRemoved(cameraId: string): void {
    for (const cameras of this.episodes.values()) cameras.delete(cameraId);
  }

  private tracksOf(ruleId: string, cameraId: string): Map<number, Episode> {
    let cameras = this.episodes.get(ruleId);
    if (!cameras) this.episodes.set(ruleId, (cameras = new Map()));
    let tracks = cameras.get(cameraId);
    if (!tracks) cameras.set(cameraId, (tracks = new Map()));
    return tracks;
  }
}

function sameCriteria(a: RuleSpec, b: RuleSpec): boolean {
  return (
    a.cameraId === b.cameraId &&
    a.userId === b.userId &&
    a.label === b.label &&
    a.minScore === b.minScore &&
    a.minDurationMs === b.minDurationMs &&
    a.cooldownMs === b.cooldownMs
  );
}
