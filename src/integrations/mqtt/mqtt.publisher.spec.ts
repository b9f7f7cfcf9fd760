import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExpressionEvent } from '../../contracts/events';
import type { FaceResult } from '../../contracts/faces';
import type { ScoresByLabel } from '../../contracts/labels';
import type { CameraDirectory } from '../../contracts/ports/camera-directory';
import { RxEventBus } from '../../events/rx-event-bus';
import type { UserRecord, UserRepository } from '../../storage/ports/user.repository';
import { MqttMetrics } from './mqtt.metrics';
import { MqttConnectOptions, MqttConnector, MqttLink, MqttLinkListener, MqttMessage, redactMqttUrl, scrubMqttSecrets } from './mqtt.port';
import { MAX_IN_FLIGHT, MqttPublisher, MqttSettings } from './mqtt.publisher';

/** An MqttConnector whose link is connected or not as the test says, and records what was published. */
class FakeConnector extends MqttConnector {
  options!: MqttConnectOptions;
  listener!: MqttLinkListener;
  sent: MqttMessage[] = [];
  /** When set, publishes stay pending until the test resolves/rejects them. */
  hold = false;
  pending: { m: MqttMessage; resolve: () => void; reject: (e: Error) => void }[] = [];
  connected = false;
  closedWith: MqttMessage | undefined;

  connect(options: MqttConnectOptions, listener: MqttLinkListener): MqttLink {
    this.options = options;
    this.listener = listener;
    const fake = this; // eslint-disable-line @typescript-eslint/no-this-alias
    return {
      get connected() {
        return fake.connected;
      },
      publish(m) {
        if (!fake.connected) return Promise.reject(new Error('not connected'));
        if (fake.hold) return new Promise<void>((resolve, reject) => fake.pending.push({ m, resolve, reject }));
        fake.sent.push(m);
        return Promise.resolve();
      },
      async close(final) {
        fake.closedWith = final;
        fake.connected = false;
      },
    };
  }
  up(): void {
    this.connected = true;
    this.listener.connected();
  }
  down(): void {
    this.connected = false;
    this.listener.disconnected('ECONNREFUSED', 1000);
  }
  topics(): string[] {
    return this.sent.map((m) => m.topic);
  }
  last(topic: string): MqttMessage | undefined {
    return [...this.sent].reverse().find((m) => m.topic === topic);
  }
}

const settings = (over: Partial<MqttSettings> = {}): MqttSettings => ({
  url: 'mqtt://alice:s3cret-pw@broker.local:1883',
  clientId: 'test',
  prefix: 'iex',
  rateMs: 3_600_000, // the test calls tick() itself
  bufferMax: 100,
  reconnectMinMs: 1000,
  reconnectMaxMs: 30_000,
  haDiscovery: false,
  haPrefix: 'homeassistant',
  version: '9.9.9',
  ...over,
});

const scores = (top: keyof ScoresByLabel, p = 0.7): ScoresByLabel => {
  const s = { angry: 0, disgust: 0, fear: 0, happy: 0, sad: 0, surprise: 0, neutral: 0 };
  for (const k of Object.keys(s) as (keyof ScoresByLabel)[]) s[k] = (1 - p) / 6;
  s[top] = p;
  return s;
};
const face = (trackId: number, top: keyof ScoresByLabel, userId: string | null = null, p = 0.7): FaceResult => ({
  trackId,
  box: { x: 0, y: 0, w: 10, h: 10 },
  label: top,
  scores: scores(top, p),
  confidence: 0.9,
  userId,
  personalized: false,
});
const frame = (cameraId: string, faces: FaceResult[], frameId = 1): ExpressionEvent => ({
  type: 'expression',
  cameraId,
  frameId,
  ts: 1,
  latencyMs: 1,
  width: 100,
  height: 100,
  faces,
});

const directory: CameraDirectory = {
  get: (id) => {
    if (!['c1', 'c2'].includes(id)) throw Object.assign(new Error('no camera'), { code: 'not_found' });
    return { id, name: id === 'c1' ? 'Front door' : 'Kitchen', url: 'file:///x', kind: 'file', fps: 10, loop: true, userId: null, status: 'streaming' };
  },
  list: () => [directory.get('c1')],
  setUser: () => {
    throw new Error('unused');
  },
};
const userRecords: UserRecord[] = [{ id: 'u1', name: 'Anna', activeVersion: null, createdAt: 0 }];
const users = { get: (id: string) => userRecords.find((u) => u.id === id), list: () => userRecords } as unknown as UserRepository;

describe('MqttPublisher', () => {
  let bus: RxEventBus;
  let conn: FakeConnector;
  let metrics: MqttMetrics;
  let pub: MqttPublisher;
  const start = (over: Partial<MqttSettings> = {}) => {
    pub = new MqttPublisher(settings(over), conn, bus, directory, users, metrics);
    pub.start();
  };
  const flushPromises = () => new Promise((r) => setImmediate(r));

  beforeEach(() => {
    bus = new RxEventBus();
    conn = new FakeConnector();
    metrics = new MqttMetrics();
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    await pub?.stop();
    vi.restoreAllMocks();
  });

  it('connects with "offline" as the retained last will and publishes "online" first on connect', () => {
    start();
    expect(conn.options.will).toEqual({ topic: 'iex/status', payload: 'offline', qos: 1, retain: true });
    expect(conn.options.clientId).toBe('test');
    conn.up();
    expect(conn.sent[0]).toEqual({ topic: 'iex/status', payload: 'online', qos: 1, retain: true });
  });

  it('publishes state per period, not per frame: scores averaged over the frames, the dominant label', async () => {
    start();
    conn.up();
    conn.sent = [];
    for (let i = 0; i < 10; i++) bus.publish('expression', frame('c1', [face(1, i < 7 ? 'happy' : 'sad', null, 0.9)], i));
    expect(conn.sent).toEqual([]); // nothing until the period ends
    pub.tick(5000);
    expect(conn.topics()).toEqual(['iex/c1/expression', 'iex/c1/state']);
    expect(conn.last('iex/c1/expression')).toMatchObject({ payload: 'happy', retain: true });
    const state = JSON.parse(conn.last('iex/c1/state')!.payload);
    expect(state).toMatchObject({ label: 'happy', faces: 1, ts: 5000 });
    expect(state.scores.happy).toBeCloseTo(0.7 * 0.9 + 0.3 * (0.1 / 6), 3);
    expect(state.scores.sad).toBeCloseTo(0.3 * 0.9 + 0.7 * (0.1 / 6), 3);
    conn.sent = [];
    pub.tick(6000);
    expect(conn.sent).toEqual([]); // no frames in the period: nothing new
  });

  it('averages the faces of a frame for the camera, and says `none` once when the faces are gone', () => {
    start();
    conn.up();
    bus.publish('expression', frame('c1', [face(1, 'happy', null, 0.9), face(2, 'angry', null, 0.6)]));
    pub.tick(1);
    expect(JSON.parse(conn.last('iex/c1/state')!.payload)).toMatchObject({ label: 'happy', faces: 2 });
    conn.sent = [];
    bus.publish('expression', frame('c1', []));
    pub.tick(2);
    expect(conn.last('iex/c1/expression')!.payload).toBe('none');
    expect(JSON.parse(conn.last('iex/c1/state')!.payload)).toEqual({ label: 'none', scores: null, faces: 0, ts: 2 });
    conn.sent = [];
    bus.publish('expression', frame('c1', []));
    pub.tick(3);
    expect(conn.sent).toEqual([]);
  });

  it('publishes per user (with the camera they are on) and `none` once their last track leaves', () => {
    start();
    conn.up();
    bus.publish('face.enter', { type: 'face.enter', cameraId: 'c2', trackId: 4, ts: 10, userId: null });
    bus.publish('expression', frame('c2', [face(4, 'surprise', 'u1'), face(5, 'sad')]));
    pub.tick(20);
    expect(conn.last('iex/users/u1/expression')!.payload).toBe('surprise');
    expect(JSON.parse(conn.last('iex/users/u1/state')!.payload)).toMatchObject({ label: 'surprise', faces: 1, cameraId: 'c2' });
    // the enter named no user (identity came later); the leave is attributed to the user the track became
    bus.publish('face.leave', { type: 'face.leave', cameraId: 'c2', trackId: 4, ts: 30, userId: null });
    expect(JSON.parse(conn.last('iex/c2/face/leave')!.payload)).toEqual({ cameraId: 'c2', trackId: 4, userId: 'u1', ts: 30 });
    expect(conn.last('iex/users/u1/face/leave')).toMatchObject({ retain: false, qos: 0 });
    pub.tick(40);
    expect(JSON.parse(conn.last('iex/users/u1/state')!.payload)).toMatchObject({ label: 'none', faces: 0, cameraId: 'c2' });
  });

  it('face.enter / face.leave go out at once, not retained', () => {
    start();
    conn.up();
    conn.sent = [];
    bus.publish('face.enter', { type: 'face.enter', cameraId: 'c1', trackId: 7, ts: 99, userId: 'u1' });
    expect(conn.sent).toEqual([
      { topic: 'iex/c1/face/enter', payload: '{"cameraId":"c1","trackId":7,"userId":"u1","ts":99}', qos: 0, retain: false },
      { topic: 'iex/users/u1/face/enter', payload: '{"cameraId":"c1","trackId":7,"userId":"u1","ts":99}', qos: 0, retain: false },
    ]);
  });

  it('sends no Home Assistant discovery unless asked', () => {
    start();
    conn.up();
    bus.publish('expression', frame('c1', [face(1, 'happy', 'u1')]));
    pub.tick(1);
    expect(conn.topics().filter((t) => t.startsWith('homeassistant/'))).toEqual([]);
  });

  it('announces every known camera and user to Home Assistant on connect, and new ones when first seen', () => {
    start({ haDiscovery: true });
    conn.up();
    const config = JSON.parse(conn.last('homeassistant/sensor/iex_c1/config')!.payload);
    expect(conn.last('homeassistant/sensor/iex_c1/config')).toMatchObject({ retain: true, qos: 1 });
    expect(config).toMatchObject({
      unique_id: 'iex_c1_expression',
      state_topic: 'iex/c1/expression',
      json_attributes_topic: 'iex/c1/state',
      availability_topic: 'iex/status',
      payload_available: 'online',
      payload_not_available: 'offline',
      device: { identifiers: ['iex_c1'], name: 'Front door (iExpressionNet camera)', sw_version: '9.9.9' },
    });
    expect(JSON.parse(conn.last('homeassistant/sensor/iex_user_u1/config')!.payload)).toMatchObject({
      unique_id: 'iex_user_u1_expression',
      state_topic: 'iex/users/u1/expression',
      device: { name: 'Anna (iExpressionNet user)' },
    });
    // c2 is not in list() at connect time (added later): announced when its status or first frame arrives
    expect(conn.last('homeassistant/sensor/iex_c2/config')).toBeUndefined();
    bus.publish('camera.status', { type: 'camera.status', cameraId: 'c2', state: 'streaming', ts: 1 });
    expect(JSON.parse(conn.last('homeassistant/sensor/iex_c2/config')!.payload).device.name).toBe('Kitchen (iExpressionNet camera)');
    const count = conn.topics().filter((t) => t === 'homeassistant/sensor/iex_c2/config').length;
    bus.publish('expression', frame('c2', [face(1, 'happy')]));
    pub.tick(1);
    expect(conn.topics().filter((t) => t === 'homeassistant/sensor/iex_c2/config').length).toBe(count); // once
  });

  it('removes a deleted camera or user: empty retained discovery config and state', () => {
    start({ haDiscovery: true });
    conn.up();
    bus.publish('expression', frame('c1', [face(1, 'happy', 'u1')]));
    pub.tick(1);
    conn.sent = [];
    bus.publish('camera.removed', { type: 'camera.removed', cameraId: 'c1' });
    bus.publish('user.deleted', { userId: 'u1' });
    const cleared = conn.sent.filter((m) => m.payload === '' && m.retain).map((m) => m.topic);
    expect(cleared.sort()).toEqual(
      ['homeassistant/sensor/iex_c1/config', 'homeassistant/sensor/iex_user_u1/config', 'iex/c1/expression', 'iex/c1/state', 'iex/users/u1/expression', 'iex/users/u1/state'].sort(),
    );
    conn.sent = [];
    bus.publish('expression', frame('c1', [face(1, 'happy', 'u1')])); // a frame that was still in flight
    pub.tick(2);
    expect(conn.topics().filter((t) => /\/c1\/|iex_c1|u1/.test(t))).toEqual([]); // forgotten: nothing comes back
  });

  it('broker down: buffers the latest message per topic, counts what it replaced, and flushes after "online" on reconnect', async () => {
    start();
    conn.up();
    conn.down();
    for (let i = 0; i < 5; i++) {
      bus.publish('expression', frame('c1', [face(1, i % 2 ? 'sad' : 'happy', null, 0.9)]));
      pub.tick(i);
    }
    bus.publish('face.enter', { type: 'face.enter', cameraId: 'c1', trackId: 1, ts: 1, userId: null });
    expect((await metrics.snapshot()).dropped).toEqual({ superseded: 8 }); // 5 periods x 2 topics, 2 kept
    expect((await metrics.snapshot()).buffered).toBe(3);
    expect((await metrics.snapshot()).connected).toBe(0);
    conn.sent = [];
    conn.up();
    await flushPromises();
    expect(conn.topics()).toEqual(['iex/status', 'iex/c1/expression', 'iex/c1/state', 'iex/c1/face/enter']);
    expect(conn.last('iex/c1/expression')!.payload).toBe('happy'); // the last period's, i = 4
    expect((await metrics.snapshot()).buffered).toBe(0);
    expect((await metrics.snapshot()).connected).toBe(1);
  });

  it('keeps the buffer within MQTT_BUFFER_MAX, dropping the oldest and counting it', async () => {
    start({ bufferMax: 3 });
    for (let t = 0; t < 5; t++) bus.publish('face.enter', { type: 'face.enter', cameraId: `cam${t}`, trackId: 1, ts: t, userId: null });
    expect((await metrics.snapshot()).dropped).toEqual({ overflow: 2 });
    conn.up();
    await flushPromises();
    // "online" takes a place too, and is never the one dropped
    expect(conn.topics()).toEqual(['iex/status', 'iex/cam3/face/enter', 'iex/cam4/face/enter']);
    expect((await metrics.snapshot()).dropped).toEqual({ overflow: 3 });
  });

  it('republishes the last state on reconnect (a restarted broker may have lost retained messages)', async () => {
    start();
    conn.up();
    bus.publish('expression', frame('c1', [face(1, 'fear', null, 0.8)]));
    pub.tick(1);
    conn.down();
    conn.sent = [];
    conn.up();
    await flushPromises();
    expect(conn.topics()).toEqual(['iex/status', 'iex/c1/expression', 'iex/c1/state']);
    expect(conn.last('iex/c1/expression')!.payload).toBe('fear');
  });

  it('a slow broker: at most MAX_IN_FLIGHT publishes pending, the rest bounded in the buffer; a failed publish is retried', async () => {
    start({ bufferMax: 1000 });
    conn.up();
    await flushPromises();
    conn.hold = true;
    for (let t = 0; t < MAX_IN_FLIGHT + 50; t++) bus.publish('face.enter', { type: 'face.enter', cameraId: `cam${t}`, trackId: 1, ts: t, userId: null });
    expect(conn.pending.length).toBe(MAX_IN_FLIGHT);
    expect((await metrics.snapshot()).buffered).toBe(50);
    // the link drops under the first one: it goes back to the buffer
    const first = conn.pending.shift()!;
    conn.connected = false;
    first.reject(new Error('connection closed'));
    await flushPromises();
    expect((await metrics.snapshot()).buffered).toBe(51);
    conn.hold = false;
    conn.pending = [];
    conn.up();
    await flushPromises();
    expect(conn.topics()).toContain(first.m.topic);
  });

  it('never logs the password or the URL userinfo', async () => {
    const lines: string[] = [];
    for (const level of ['log', 'warn', 'debug', 'error'] as const) vi.spyOn(Logger.prototype, level).mockImplementation((m: unknown) => void lines.push(String(m)));
    start({ password: 'pw-from-env', username: 'bob' });
    conn.listener.disconnected('Connection refused: bad user name or password pw-from-env', 1000);
    conn.up();
    conn.down();
    await pub.stop();
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) {
      expect(l).not.toContain('s3cret-pw');
      expect(l).not.toContain('alice');
      expect(l).not.toContain('pw-from-env');
    }
    expect(lines.join('\n')).toContain('mqtt://***@broker.local:1883');
  });

  it('stop() publishes "offline" through the link and stops listening', async () => {
    start();
    conn.up();
    await pub.stop();
    expect(conn.closedWith).toEqual({ topic: 'iex/status', payload: 'offline', qos: 1, retain: true });
    conn.connected = true;
    conn.sent = [];
    bus.publish('face.enter', { type: 'face.enter', cameraId: 'c1', trackId: 1, ts: 1, userId: null });
    expect(conn.sent).toEqual([]);
  });
});

describe('redactMqttUrl / scrubMqttSecrets', () => {
  it.each([
    ['mqtt://user:pass@host:1883', 'mqtt://***@host:1883'],
    ['mqtts://user@host', 'mqtts://***@host'],
    ['mqtt://host:1883', 'mqtt://host:1883'],
    ['wss://u:p@host/mqtt', 'wss://***@host/mqtt'],
    ['not a url user:pass', '<invalid url>'],
  ])('%s -> %s', (input, expected) => expect(redactMqttUrl(input)).toBe(expected));

  it('scrubs given secrets from a message', () => {
    expect(scrubMqttSecrets('auth failed for bob/hunter2', ['hunter2', undefined])).toBe('auth failed for bob/***');
  });
});
