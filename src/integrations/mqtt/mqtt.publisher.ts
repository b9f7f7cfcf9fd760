import { Logger } from '@nestjs/common';
import { Subscription } from 'rxjs';
import type { FaceEnterEvent, FaceLeaveEvent, ExpressionEvent } from '../../contracts/events';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../../contracts/labels';
import type { CameraDirectory } from '../../contracts/ports/camera-directory';
import { EventBus } from '../../events/event-bus';
import type { UserRepository } from '../../storage/ports/user.repository';
import { MqttMetrics } from './mqtt.metrics';
import { MqttConnector, MqttLink, MqttMessage, redactMqttUrl, scrubMqttSecrets } from './mqtt.port';
import { discoveryConfig, MqttTopics, topicSegment } from './mqtt.topics';

/** What the publisher is configured with (from MQTT_* settings; docs/INTEGRATIONS.md). */
export interface MqttSettings {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  prefix: string;
  rateMs: number;
  bufferMax: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  haDiscovery: boolean;
  haPrefix: string;
  /** The server's version, shown in Home Assistant's device page. */
  version: string;
}

/** Publishes in flight at once; more wait in the bounded buffer (a slow broker costs memory only up to both bounds). */
export const MAX_IN_FLIGHT = 100;

/** The state payload of a camera or a user (`<prefix>/<camera>/state`, `<prefix>/users/<user>/state`). */
export interface MqttState {
  /** The dominant expression over the last period, or `none` when no face was seen. */
  label: LabelName | 'none';
  /** Mean scores over the period's faces (each frame weighs the same; a frame's faces are averaged), or null for none. */
  scores: ScoresByLabel | null;
  /** Faces in the latest frame (camera) or live tracks of the user (user). */
  faces: number;
  /** The camera the user was last seen on (user topics only). */
  cameraId?: string;
  /** End of the period, ms since epoch. */
  ts: number;
}

interface Tally {
  sum: Float64Array;
  /** Samples summed into `sum` (frames with faces for a camera; faces for a user). */
  n: number;
  /** Frames seen this period (cameras; 0 for users). */
  frames: number;
  faces: number;
  cameraId?: string;
  /** The last state published (republished on reconnect: a restarted broker may have lost retained messages). */
  last: MqttState | null;
  announced: boolean;
}

const newTally = (): Tally => ({ sum: new Float64Array(LABEL_NAMES.length), n: 0, frames: 0, faces: 0, last: null, announced: false });

/**
 * Publishes what the pipeline sees to an MQTT broker: per camera and per user the dominant expression and its scores
 * at most once per `rateMs` (averaged over the period, never per frame), face.enter / face.leave as they happen, an
 * availability topic (`online` on connect, `offline` as the last will and on shutdown), and, opt-in, Home Assistant
 * discovery configs so each camera and user appears as a sensor. Topics: mqtt.topics.ts, docs/INTEGRATIONS.md.
 *
 * It never blocks the pipeline: bus handlers only add numbers and enqueue; sends are fire-and-forget through the
 * MqttLink port. While the broker is unreachable (or slow: more than MAX_IN_FLIGHT unfinished publishes) messages wait
 * in a buffer of at most `bufferMax` entries, one per topic (a newer message for a topic replaces the older one:
 * retained state only matters at its latest), the oldest dropped beyond the bound; both kinds of loss are counted
 * (iexpr_mqtt_dropped_total).
 */
export class MqttPublisher {
  private readonly log = new Logger('Mqtt');
  private readonly topics: MqttTopics;
  private readonly cameras = new Map<string, Tally>();
  private readonly users = new Map<string, Tally>();
  /** `${cameraId}\u0000${trackId}` → the user the track was last seen as (null: unknown face). */
  private readonly tracks = new Map<string, string | null>();
  private readonly buffer = new Map<string, MqttMessage>();
  /** Cameras (and `user:<id>`s) removed lately (ids are never reused): a frame in flight must not bring their state back. */
  private readonly removed = new Set<string>();
  private link: MqttLink | null = null;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private subscription: Subscription | null = null;
  private wasConnected = false;
  private warned = false;

  constructor(
    private readonly settings: MqttSettings,
    private readonly connector: MqttConnector,
    private readonly bus: EventBus,
    private readonly directory: CameraDirectory,
    private readonly userRepository: UserRepository,
    readonly metrics: MqttMetrics,
  ) {
    this.topics = new MqttTopics(settings.prefix, settings.haPrefix);
  }

  start(): void {
    if (this.link) return;
    this.subscription = this.bus.on('expression', 'face.enter', 'face.leave', 'camera.removed', 'camera.status', 'user.deleted').subscribe((e) => {
      try {
        switch (e.name) {
          case 'expression':
            return this.onExpression(e.payload);
          case 'face.enter':
            return this.onFace('enter', e.payload);
          case 'face.leave':
            return this.onFace('leave', e.payload);
          case 'camera.status':
            return this.announceCamera(e.payload.cameraId);
          case 'camera.removed':
            return this.removeCamera(e.payload.cameraId);
          case 'user.deleted':
            return this.removeUser(e.payload.userId);
        }
      } catch (err) {
        // A bad event must not end the subscription (and with it every later publish).
        this.log.error(`event ${e.name} not published: ${(err as Error).message}`);
      }
    });
    this.link = this.connector.connect(
      {
        url: this.settings.url,
        username: this.settings.username,
        password: this.settings.password,
        clientId: this.settings.clientId,
        will: this.availability('offline'),
        reconnectMinMs: this.settings.reconnectMinMs,
        reconnectMaxMs: this.settings.reconnectMaxMs,
      },
      { connected: () => this.onConnected(), disconnected: (reason, retryInMs) => this.onDisconnected(reason, retryInMs) },
    );
    this.timer = setInterval(() => this.tick(), this.settings.rateMs);
    this.timer.unref();
    this.log.log(`publishing to ${redactMqttUrl(this.settings.url)} under ${this.settings.prefix}/ every ${this.settings.rateMs} ms${this.settings.haDiscovery ? ', Home Assistant discovery on' : ''}`);
  }

  /** Publishes `offline` and disconnects; buffered messages are dropped (a later start publishes fresh state). */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const link = this.link;
    this.link = null;
    if (link) await link.close(this.availability('offline'));
    this.metrics.connected.set(0);
  }

  /** One period: the state of every camera and user that changed since the last one. Public for tests. */
  tick(now = Date.now()): void {
    for (const [cameraId, t] of this.cameras) {
      if (t.frames === 0) continue;
      const state = t.n > 0 ? stateOf(t, now) : { label: 'none' as const, scores: null, faces: 0, ts: now };
      // An empty camera is said once, not every period.
      if (state.label !== 'none' || t.last?.label !== 'none') this.publishState(this.topics.camera(cameraId), t, state);
      this.announceCamera(cameraId);
      reset(t);
    }
    const liveUsers = new Map<string, number>();
    for (const u of this.tracks.values()) if (u) liveUsers.set(u, (liveUsers.get(u) ?? 0) + 1);
    for (const [userId, t] of this.users) {
      if (t.n > 0) {
        this.publishState(this.topics.user(userId), t, { ...stateOf(t, now), faces: liveUsers.get(userId) ?? 0, cameraId: t.cameraId });
        this.announceUser(userId);
      } else if (t.last && t.last.label !== 'none' && !liveUsers.has(userId)) {
        this.publishState(this.topics.user(userId), t, { label: 'none', scores: null, faces: 0, cameraId: t.cameraId, ts: now });
      }
      reset(t);
    }
  }

  // ---- bus ------------------------------------------------------------------------------------------------------

  private onExpression(e: ExpressionEvent): void {
    if (this.removed.has(e.cameraId)) return;
    const cam = this.tally(this.cameras, e.cameraId);
    cam.frames++;
    cam.faces = e.faces.length;
    if (e.faces.length === 0) return;
    cam.n++;
    for (const f of e.faces) {
      addScores(cam.sum, f.scores, 1 / e.faces.length);
      this.tracks.set(trackKey(e.cameraId, f.trackId), f.userId);
      if (!f.userId || this.removed.has(`user:${f.userId}`)) continue;
      const u = this.tally(this.users, f.userId);
      addScores(u.sum, f.scores, 1);
      u.n++;
      u.cameraId = e.cameraId;
    }
  }

  private onFace(kind: 'enter' | 'leave', e: FaceEnterEvent | FaceLeaveEvent): void {
    const key = trackKey(e.cameraId, e.trackId);
    const userId = e.userId ?? this.tracks.get(key) ?? null;
    if (kind === 'enter') this.tracks.set(key, userId);
    else this.tracks.delete(key);
    const payload = JSON.stringify({ cameraId: e.cameraId, trackId: e.trackId, userId, ts: e.ts });
    this.send({ topic: this.topics.camera(e.cameraId).face(kind), payload, qos: 0, retain: false });
    if (userId) this.send({ topic: this.topics.user(userId).face(kind), payload, qos: 0, retain: false });
  }

  private removeCamera(cameraId: string): void {
    this.cameras.delete(cameraId);
    this.removed.add(cameraId);
    if (this.removed.size > 1000) this.removed.delete(this.removed.values().next().value as string);
    for (const key of [...this.tracks.keys()]) if (key.startsWith(`${cameraId}\u0000`)) this.tracks.delete(key);
    const topics = this.topics.camera(cameraId);
    // An empty retained message deletes the retained one; on a discovery topic it removes the HA entity.
    for (const topic of [topics.expression, topics.state]) this.send({ topic, payload: '', qos: 1, retain: true });
    if (this.settings.haDiscovery) this.send({ topic: this.topics.discovery('camera', cameraId), payload: '', qos: 1, retain: true });
  }

  private removeUser(userId: string): void {
    this.users.delete(userId);
    this.removed.add(`user:${userId}`);
    for (const [key, u] of this.tracks) if (u === userId) this.tracks.set(key, null);
    const topics = this.topics.user(userId);
    for (const topic of [topics.expression, topics.state]) this.send({ topic, payload: '', qos: 1, retain: true });
    if (this.settings.haDiscovery) this.send({ topic: this.topics.discovery('user', userId), payload: '', qos: 1, retain: true });
  }

  // ---- Home Assistant discovery ----------------------------------------------------------------------------------

  private announceCamera(cameraId: string, force = false): void {
    if (!this.settings.haDiscovery) return;
    if (this.cameras.get(cameraId)?.announced && !force) return;
    let name: string;
    try {
      name = this.directory.get(cameraId).name;
    } catch {
      return; // removed meanwhile, or not a camera the directory knows: nothing to announce
    }
    this.tally(this.cameras, cameraId).announced = true;
    this.send({ topic: this.topics.discovery('camera', cameraId), payload: JSON.stringify(this.discovery('camera', cameraId, name)), qos: 1, retain: true });
  }

  private announceUser(userId: string, force = false): void {
    if (!this.settings.haDiscovery) return;
    if (this.users.get(userId)?.announced && !force) return;
    const user = this.userRepository.get(userId);
    if (!user) return;
    this.tally(this.users, userId).announced = true;
    this.send({ topic: this.topics.discovery('user', userId), payload: JSON.stringify(this.discovery('user', userId, user.name)), qos: 1, retain: true });
  }

  private discovery(kind: 'camera' | 'user', id: string, name: string) {
    const topics = kind === 'camera' ? this.topics.camera(id) : this.topics.user(id);
    return discoveryConfig({ kind, id, name, node: topicSegment(this.settings.prefix), topics, availability: this.topics.availability, version: this.settings.version });
  }

  // ---- connection ------------------------------------------------------------------------------------------------

  private onConnected(): void {
    this.metrics.connected.set(1);
    this.wasConnected = true;
    this.warned = false;
    this.log.log(`connected to ${redactMqttUrl(this.settings.url)}`);
    // A fresh session: the broker may have restarted without persistence and lost every retained message.
    // Availability first, so HA marks the entities available; then discovery, then the last state of each.
    const first = this.availability('online');
    this.enqueue(first, true);
    if (this.settings.haDiscovery) {
      for (const c of safeList(() => this.directory.list())) this.announceCamera(c.id, true);
      for (const u of safeList(() => this.userRepository.list())) this.announceUser(u.id, true);
      for (const [id, t] of this.cameras) if (t.announced) this.announceCamera(id, true);
      for (const [id, t] of this.users) if (t.announced) this.announceUser(id, true);
    }
    for (const [id, t] of this.cameras) if (t.last) this.enqueueState(this.topics.camera(id), t.last);
    for (const [id, t] of this.users) if (t.last) this.enqueueState(this.topics.user(id), t.last);
    this.flush();
  }

  private onDisconnected(reason: string, retryInMs: number): void {
    this.metrics.connected.set(0);
    this.metrics.disconnects.inc();
    const why = scrubMqttSecrets(reason, [this.settings.password, this.settings.username]);
    const line = `broker ${redactMqttUrl(this.settings.url)} ${this.wasConnected ? 'connection lost' : 'unreachable'} (${why}); retrying in ${retryInMs} ms, up to ${this.settings.bufferMax} messages buffered meanwhile`;
    // Once per outage at warn; every retry after that at debug (a broker down for a day must not flood the log).
    if (this.warned) this.log.debug(line);
    else this.log.warn(line);
    this.warned = true;
    this.wasConnected = false;
  }

  // ---- sending ---------------------------------------------------------------------------------------------------

  private publishState(topics: { expression: string; state: string }, t: Tally, state: MqttState): void {
    t.last = state;
    this.send({ topic: topics.expression, payload: state.label, qos: 0, retain: true });
    this.send({ topic: topics.state, payload: JSON.stringify(state), qos: 0, retain: true });
  }

  private enqueueState(topics: { expression: string; state: string }, state: MqttState): void {
    // Only when nothing newer for the topic waits already (a buffered message is newer than the last one published).
    if (!this.buffer.has(topics.expression)) this.enqueue({ topic: topics.expression, payload: state.label, qos: 0, retain: true });
    if (!this.buffer.has(topics.state)) this.enqueue({ topic: topics.state, payload: JSON.stringify(state), qos: 0, retain: true });
  }

  private send(m: MqttMessage): void {
    if (this.link?.connected && this.buffer.size === 0 && this.inFlight < MAX_IN_FLIGHT) this.deliver(m);
    else {
      this.enqueue(m);
      this.flush();
    }
  }

  private enqueue(m: MqttMessage, front = false): void {
    if (this.buffer.delete(m.topic)) this.metrics.dropped.inc({ reason: 'superseded' });
    if (front) {
      const rest = [...this.buffer.values()];
      this.buffer.clear();
      this.buffer.set(m.topic, m);
      for (const r of rest) this.buffer.set(r.topic, r);
    } else this.buffer.set(m.topic, m);
    while (this.buffer.size > this.settings.bufferMax) {
      // The oldest goes, except the availability message (it must precede everything after a reconnect).
      let oldest = this.topics.availability;
      for (const t of this.buffer.keys()) {
        if (t === this.topics.availability) continue;
        oldest = t;
        break;
      }
      this.buffer.delete(oldest);
      this.metrics.dropped.inc({ reason: 'overflow' });
    }
    this.metrics.buffered.set(this.buffer.size);
  }

  private flush(): void {
    while (this.link?.connected && this.inFlight < MAX_IN_FLIGHT && this.buffer.size > 0) {
      const [topic, m] = this.buffer.entries().next().value as [string, MqttMessage];
      this.buffer.delete(topic);
      this.deliver(m);
    }
    this.metrics.buffered.set(this.buffer.size);
  }

  private deliver(m: MqttMessage): void {
    const link = this.link;
    if (!link) return;
    this.inFlight++;
    link.publish(m).then(
      () => {
        this.inFlight--;
        this.metrics.published.inc();
        this.flush();
      },
      () => {
        this.inFlight--;
        // The link dropped under it: back into the buffer unless something newer for the topic waits there.
        if (!this.buffer.has(m.topic)) this.enqueue(m);
        this.flush();
      },
    );
  }

  private availability(payload: 'online' | 'offline'): MqttMessage {
    return { topic: this.topics.availability, payload, qos: 1, retain: true };
  }

  private tally(map: Map<string, Tally>, id: string): Tally {
    let t = map.get(id);
    if (!t) map.set(id, (t = newTally()));
    return t;
  }
}

const trackKey = (cameraId: string, trackId: number) => `${cameraId}\u0000${trackId}`;

function addScores(sum: Float64Array, scores: ScoresByLabel, weight: number): void {
  LABEL_NAMES.forEach((l, i) => (sum[i] += (scores[l] ?? 0) * weight));
}

function stateOf(t: Tally, now: number): MqttState {
  const scores = {} as ScoresByLabel;
  let best = 0;
  LABEL_NAMES.forEach((l, i) => {
    scores[l] = Math.round((t.sum[i] / t.n) * 1e4) / 1e4;
    if (t.sum[i] > t.sum[best]) best = i;
  });
  return { label: LABEL_NAMES[best], scores, faces: t.faces, ts: now };
}

function reset(t: Tally): void {
  t.sum.fill(0);
  t.n = 0;
  t.frames = 0;
}

function safeList<T>(list: () => T[]): T[] {
  try {
    return list();
  } catch {
    return [];
  }
}
