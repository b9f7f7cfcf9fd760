/**
 * MQTT and Home Assistant discovery against a real broker (mosquitto started here) and a real subscriber (mqtt.js):
 * the real server (AppModule) with a looping file camera publishes expression state within 5 s of the first face,
 * a valid discovery config whose topics really receive data, a last will when its connection is cut, and it rides
 * out a broker crash: publishing resumes after the restart while the pipeline never stops producing events.
 * The server reaches the broker through a TCP relay, so the test can cut its connection without a clean disconnect.
 */
import { connect, type MqttClient } from 'mqtt';
import { existsSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_NAMES } from '../../src/contracts/labels';
import { WS_SUBPROTOCOL } from '../../src/contracts/wire';
import { RealApp, startRealApp } from '../support/app';
import { Mosquitto, requireMosquitto } from '../support/mosquitto';
import { D6 } from '../support/paths';
import { Relay } from '../support/relay';
import { requireTool } from '../support/require-tool';
import { TestClient } from '../support/server';

const hasVideo = existsSync(D6);
if (!hasVideo) console.warn(`skipping: ${D6} not found (the face videos live in ../shared/videos)`);
const ffmpeg = requireTool('ffmpeg', 'ffmpeg');
const mosquittoBin = requireMosquitto();

const PREFIX = 'iexpressionnet';
const RECONNECT_MAX_MS = 1000;

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

/** A subscriber that keeps everything it receives, and waits for a message matching a predicate. */
class Subscriber {
  readonly messages: Received[] = [];
  private waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain, at: Date.now() };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    });
  }
  static async connect(url: string): Promise<Subscriber> {
    const client = connect(url, { reconnectPeriod: 100, clientId: `test-sub-${process.pid}` });
    const sub = new Subscriber(client);
    client.on('error', () => undefined);
    await new Promise<void>((r) => client.once('connect', () => r()));
    await client.subscribeAsync([`${PREFIX}/#`, 'homeassistant/#'], { qos: 1 });
    return sub;
  }
  /** The first message (already received after `since`, or arriving) matching `pred`. */
  next(pred: (m: Received) => boolean, timeoutMs: number, since = 0): Promise<Received> {
    const had = this.messages.find((m) => m.at >= since && pred(m));
    if (had) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: Received) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no matching MQTT message within ${timeoutMs} ms; last: ${JSON.stringify(this.messages.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = (await request(url).get('/metrics')).text;
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && !l.startsWith('#'))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
}

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasVideo || !ffmpeg || !mosquittoBin)('MQTT and Home Assistant discovery (real broker, real server)', () => {
  let broker: Mosquitto;
  let relay: Relay;
  let server: RealApp;
  let sub: Subscriber;
  let ws: TestClient;
  let cameraId = '';
  let faceEvents = 0;

  beforeAll(async () => {
    broker = await Mosquitto.start(mosquittoBin!);
    relay = new Relay(broker.port);
    await relay.start();
    sub = await Subscriber.connect(broker.url);
    server = await startRealApp({
      MQTT_URL: `mqtt://127.0.0.1:${relay.port}`,
      MQTT_RATE_MS: '500',
      MQTT_HA_DISCOVERY: 'true',
      MQTT_RECONNECT_MIN_MS: '200',
      MQTT_RECONNECT_MAX_MS: String(RECONNECT_MAX_MS),
    });
    ws = await TestClient.connect(server.wsUrl, { protocols: [WS_SUBPROTOCOL] });
    ws.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString()) as { type: string; faces?: unknown[] };
      if (m.type === 'expression' && m.faces?.length) faceEvents++;
    });
  }, 60_000);

  afterAll(async () => {
    ws?.close();
    await server?.close();
    await sub?.client.endAsync(true);
    await relay?.stop();
    await broker?.stop();
  });

  it('says "online" on the retained availability topic once connected', async () => {
    const m = await sub.next((x) => x.topic === `${PREFIX}/status` && x.payload === 'online', 10_000);
    expect(m.payload).toBe('online');
  });

  it('publishes a looping file camera\'s expression state within 5 s of the first face', async () => {
    const res = await request(server.url).post('/api/cameras').send({ url: `file://${D6}`, loop: true, fps: 10, name: 'Hall' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    cameraId = res.body.id as string;
    expect((await ws.request({ type: 'subscribe', id: 's1', cameras: [cameraId] })).type).toBe('ack');

    const enter = await sub.next((m) => m.topic === `${PREFIX}/${cameraId}/face/enter`, 30_000);
    const firstFaceTs = (JSON.parse(enter.payload) as { ts: number }).ts;
    expect(enter.retain).toBe(false);
    const label = await sub.next((m) => m.topic === `${PREFIX}/${cameraId}/expression` && (LABEL_NAMES as readonly string[]).includes(m.payload), 10_000);
    expect(label.retain).toBe(false); // live delivery to a subscriber: the retain flag is set only on replay
    expect(label.at - firstFaceTs).toBeLessThan(5000);

    const state = await sub.next((m) => m.topic === `${PREFIX}/${cameraId}/state` && m.payload.includes('"scores":{'), 5000);
    const s = JSON.parse(state.payload) as { label: string; scores: Record<string, number>; faces: number; ts: number };
    expect(Object.keys(s.scores).sort()).toEqual([...LABEL_NAMES].sort());
    expect(Object.values(s.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    const argmax = Object.entries(s.scores).sort((a, b) => b[1] - a[1])[0][0];
    expect(s.label).toBe(argmax);
    expect(s.faces).toBeGreaterThan(0);
  });

  it('publishes a valid Home Assistant discovery config whose topics really receive data', async () => {
    const m = await sub.next((x) => x.topic === `homeassistant/sensor/${PREFIX}_${cameraId}/config` && x.payload !== '', 10_000);
    const c = JSON.parse(m.payload) as Record<string, unknown> & { device: Record<string, unknown> };
    for (const key of ['name', 'unique_id', 'state_topic', 'json_attributes_topic', 'availability_topic', 'payload_available', 'payload_not_available', 'device']) {
      expect(c, key).toHaveProperty(key);
    }
    expect(c.unique_id).toBe(`${PREFIX}_${cameraId}_expression`);
    expect(c.device.identifiers).toEqual([`${PREFIX}_${cameraId}`]);
    expect(c.device.name).toContain('Hall');
    // every topic it names has received what HA expects there
    await sub.next((x) => x.topic === c.state_topic && (LABEL_NAMES as readonly string[]).includes(x.payload), 5000);
    const attrs = await sub.next((x) => x.topic === c.json_attributes_topic && x.payload.includes('"scores":{'), 5000);
    expect(typeof (JSON.parse(attrs.payload) as { scores: object }).scores).toBe('object');
    await sub.next((x) => x.topic === c.availability_topic && x.payload === c.payload_available, 1000);
    // and the broker keeps it retained: a fresh subscriber gets it (what HA does when it starts)
    const late = await Subscriber.connect(broker.url);
    try {
      const replay = await late.next((x) => x.topic === m.topic, 5000);
      expect(replay.retain).toBe(true);
      expect(JSON.parse(replay.payload)).toEqual(c);
      const status = await late.next((x) => x.topic === `${PREFIX}/status`, 5000);
      expect([status.payload, status.retain]).toEqual(['online', true]);
    } finally {
      await late.client.endAsync(true);
    }
  });

  it('a connection cut without a clean disconnect: the broker publishes the last will "offline", then the server reconnects', async () => {
    const t0 = Date.now();
    relay.cut();
    await sub.next((x) => x.topic === `${PREFIX}/status` && x.payload === 'offline', 10_000, t0);
    await sub.next((x) => x.topic === `${PREFIX}/status` && x.payload === 'online', 10_000, t0);
    await sub.next((x) => x.topic === `${PREFIX}/${cameraId}/expression`, 5000, Date.now());
  });

  it('broker killed and restarted on the same port: the server keeps producing events, then publishing resumes', async () => {
    await until(async () => (await metric(server.url, 'iexpr_mqtt_connected')) === 1, 10_000, 'connected');
    const disconnectsBefore = await metric(server.url, 'iexpr_mqtt_disconnects_total');
    await broker.kill();
    const downAt = Date.now();
    await until(async () => (await metric(server.url, 'iexpr_mqtt_connected')) === 0, 10_000, 'the server to notice the broker is gone');
    const before = faceEvents;
    await until(() => faceEvents > before + 5, 15_000, 'expression events while the broker is down');
    // let a few rate periods pass, so the buffer replaces state (latest per topic wins)
    await new Promise((r) => setTimeout(r, 1500));
    expect(await metric(server.url, 'iexpr_mqtt_dropped_total')).toBeGreaterThan(0);
    expect(await metric(server.url, 'iexpr_mqtt_disconnects_total')).toBeGreaterThan(disconnectsBefore);
    expect(await metric(server.url, 'iexpr_mqtt_buffered')).toBeGreaterThan(0);
    expect(await metric(server.url, 'iexpr_mqtt_buffered')).toBeLessThanOrEqual(1000);

    await broker.start();
    const upAt = Date.now();
    // the subscriber reconnects by itself (mqtt.js, resubscribing); the broker lost everything (no persistence)
    await until(() => sub.client.connected, 10_000, 'the test subscriber to reconnect');
    await until(async () => (await metric(server.url, 'iexpr_mqtt_connected')) === 1, RECONNECT_MAX_MS + 10_000, 'the server to reconnect');
    const reconnectedAfterMs = Date.now() - upAt;
    expect(reconnectedAfterMs).toBeLessThan(RECONNECT_MAX_MS + 10_000);
    const online = await sub.next((x) => x.topic === `${PREFIX}/status` && x.payload === 'online', 10_000, upAt);
    expect(online.at).toBeGreaterThanOrEqual(upAt);
    const fresh = await sub.next((x) => x.topic === `${PREFIX}/${cameraId}/state`, 10_000, upAt);
    expect((JSON.parse(fresh.payload) as { ts: number }).ts).toBeGreaterThan(downAt);
    await sub.next((x) => x.topic === `homeassistant/sensor/${PREFIX}_${cameraId}/config` && x.payload !== '', 10_000, upAt);
    // events kept flowing to WebSocket clients the whole time
    const afterUp = faceEvents;
    await until(() => faceEvents > afterUp, 10_000, 'expression events after the restart');
  });

  it('deleting the camera removes its Home Assistant entity and clears its retained state', async () => {
    const t0 = Date.now();
    expect((await request(server.url).delete(`/api/cameras/${cameraId}`)).status).toBeLessThan(300);
    await sub.next((x) => x.topic === `homeassistant/sensor/${PREFIX}_${cameraId}/config` && x.payload === '', 10_000, t0);
    await sub.next((x) => x.topic === `${PREFIX}/${cameraId}/state` && x.payload === '', 10_000, t0);
    // a fresh subscriber finds nothing retained for it
    const late = await Subscriber.connect(broker.url);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(late.messages.filter((x) => x.topic.includes(cameraId) && x.payload !== '')).toEqual([]);
    } finally {
      await late.client.endAsync(true);
    }
  });

  it('a clean shutdown says "offline"', async () => {
    const t0 = Date.now();
    ws.close();
    await server.close();
    server = undefined as unknown as RealApp;
    await sub.next((x) => x.topic === `${PREFIX}/status` && x.payload === 'offline', 10_000, t0);
  });
});
