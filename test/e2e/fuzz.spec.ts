/**
 * Hostile input (issue 6 §2): 10,000+ generated messages on one socket — random JSON, valid types with wrong
 * fields, huge strings, deep nesting, invalid UTF-8, binary garbage and binary frames that are not images. Every
 * text message must get exactly one typed reply, every binary one a typed error unless it is an accepted browser
 * frame (no reply, by protocol), the socket must stay usable, and the heap bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_TYPES, type ClientMessageType } from '../../src/contracts/commands';
import { ERROR_CODES } from '../../src/contracts/errors';
import type { ServerMessage } from '../../src/contracts/messages';
import { ConnectionRegistry } from '../../src/delivery/connection.registry';
import { startTestServer, TestClient, type Received, type TestServer } from '../support/server';

const TOTAL = 10_500;
const CHUNK = 500;

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID_FIELDS: Record<ClientMessageType, Record<string, unknown>> = {
  auth: { token: 'x'.repeat(10) },
  subscribe: { cameras: ['a'], preview: true },
  unsubscribe: { cameras: '*' },
  'camera.add': { url: 'rtsp://u:p@h/x', name: 'n', fps: 5, loop: false },
  'camera.remove': { cameraId: 'c' },
  'camera.list': {},
  'camera.retry': { cameraId: 'c' },
  'browser.open': { name: 'b', fps: 5 },
  'user.create': { name: 'u' },
  'user.rename': { userId: 'u', name: 'v' },
  'user.delete': { userId: 'u' },
  'user.list': {},
  'camera.bind': { cameraId: 'c', userId: null },
  'track.assign': { cameraId: 'c', trackId: 3, userId: 'u' },
  'calibration.start': { userId: 'u', cameraId: 'c', labels: ['happy'] },
  'calibration.cancel': { userId: 'u' },
  'finetune.start': { userId: 'u', epochs: 3 },
  'model.activate': { userId: 'u', version: 2 },
  'face.enrol': { userId: 'u', image: 'iVBORw0KGgo=' },
};

type Expect = 'reply' | 'bad_message' | 'none' | 'error';
interface Gen {
  data: string | Buffer;
  expect: Expect;
}

function generator(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const str = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(int(rand() < 0.9 ? 128 : 0x2fff));
    return s;
  };
  const value = (depth: number): unknown => {
    const r = rand();
    if (depth <= 0 || r < 0.5) return pick([null, true, false, int(1e6) - 5e5, rand() * 1e9, str(int(20)), -0, 1e308]);
    if (r < 0.75) return Array.from({ length: int(5) }, () => value(depth - 1));
    const o: Record<string, unknown> = {};
    for (let i = int(5); i > 0; i--) o[pick(['type', 'id', 'cameras', 'url', 'token', str(int(8))])] = value(depth - 1);
    if (rand() < 0.5) o.type = pick([...CLIENT_MESSAGE_TYPES.filter((t) => t !== 'auth'), 'nope', '', '__proto__']);
    return o;
  };
  const types = CLIENT_MESSAGE_TYPES;

  return (seq: number): Gen => {
    const r = rand();
    if (r < 0.25) {
      // random JSON: a reply of some kind (a random object may even be valid)
      const v = value(4);
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { type?: unknown }).type === 'auth') delete (v as { type?: unknown }).type;
      return { data: JSON.stringify(v) ?? 'null', expect: 'reply' };
    }
    if (r < 0.55) {
      // a valid type with one thing wrong
      const type = pick(types);
      const msg: Record<string, unknown> = { type, id: `f${seq}`, ...VALID_FIELDS[type] };
      const fields = Object.keys(msg).filter((k) => k !== 'type');
      const m = int(3);
      if (m === 0) msg[pick(['zz', 'extra', 'constructor', str(5)])] = 1;
      else if (m === 1) msg[pick(fields)] = pick([{}, { $gt: '' }, [[[]]]]);
      else if (type !== 'auth') delete msg.id;
      else msg.token = 42;
      return { data: JSON.stringify(msg), expect: 'bad_message' };
    }
    if (r < 0.58) {
      // huge strings, some over the 64 KB text limit
      const n = 1000 + int(90_000);
      return { data: JSON.stringify({ type: pick(types), id: `h${seq}`, url: 'x'.repeat(n) }), expect: 'reply' };
    }
    if (r < 0.62) {
      const depth = 1 + int(30_000);
      const deep = rand() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return { data: rand() < 0.5 ? deep : `{"type":"subscribe","id":"d${seq}","cameras":${deep}}`, expect: 'reply' };
    }
    if (r < 0.66) {
      // not JSON / not UTF-8, as a text frame
      const b = Buffer.alloc(1 + int(200));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return { data: rand() < 0.5 ? b.toString('latin1') : '{"type":' + str(int(50)), expect: 'reply' };
    }
    if (r < 0.92) {
      // binary garbage, sometimes over the binary limit
      const n = rand() < 0.02 ? 300_000 + int(100_000) : int(2000);
      const b = Buffer.alloc(n);
      for (let i = 0; i < Math.min(n, 64); i++) b[i] = int(256);
      if (n > 0 && b[0] === 0) b[0] = 1; // channel 0 is open: keep garbage off it here
      return { data: b, expect: 'error' };
    }
    if (r < 0.96) {
      // channel 0 (open), but not an image
      const b = Buffer.alloc(2 + int(500), int(256));
      b[0] = 0;
      b[1] = 0x00;
      return { data: b, expect: 'error' };
    }
    // an accepted browser frame: JPEG magic on the open channel -> no reply
    return { data: Buffer.concat([Buffer.from([0, 0xff, 0xd8, 0xff]), Buffer.alloc(int(1000), 7)]), expect: 'none' };
  };
}

describe('fuzz: hostile WebSocket input', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      WS_MESSAGES_PER_SEC: '1000000',
      WS_MESSAGE_BURST: '10000000',
      WS_MAX_BINARY_BYTES: String(256 * 1024),
      WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
    });
  });
  afterAll(() => server.close());

  it(`${TOTAL} generated messages: one typed reply each (or none by protocol), socket usable, heap bounded`, async () => {
    const rand = mulberry32(20240601);
    const gen = generator(rand);
    const c = await TestClient.connect(server.wsUrl);
    await c.next((m) => m.type === 'hello');
    const open = await c.request<Extract<ServerMessage, { type: 'ack' }>>({ type: 'browser.open', id: 'bo' });
    expect(open.channel).toBe(0);

    const codes = new Set<string>(ERROR_CODES);
    let expectedReplies = 0;
    let expectedPushes = 0;
    let badMessages = 0;
    const replies: Received[] = [];
    const all = c.received; // everything not claimed by a waiter lands here
    let heapAfterWarmup = 0;
    const countsByCode = new Map<string, number>();

    for (let sent = 0, chunk = 0; sent < TOTAL; chunk++) {
      const wantBad: string[] = [];
      for (let i = 0; i < CHUNK && sent < TOTAL; i++, sent++) {
        const g = gen(sent);
        c.ws.send(g.data, { binary: Buffer.isBuffer(g.data) });
        if (g.expect === 'none') expectedPushes++;
        else expectedReplies++;
        if (g.expect === 'bad_message') wantBad.push(`f${sent}`);
      }
      await c.request({ type: 'camera.list', id: `sentinel${chunk}` });
      const deadline = Date.now() + 10_000;
      while (all.length < expectedReplies - replies.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      replies.push(...all.splice(0));
      expect(replies.length, `replies after chunk ${chunk}`).toBe(expectedReplies);
      const byId = new Map(replies.filter((m) => m.type === 'error' && m.id).map((m) => [(m as { id: string }).id, m]));
      for (const id of wantBad) {
        const e = byId.get(id) as { code?: string } | undefined;
        // a message whose id was deleted comes back with id null; those with ids must be bad_message
        if (e) {
          expect(e.code, id).toBe('bad_message');
          badMessages++;
        }
      }
      if (chunk === 1) heapAfterWarmup = process.memoryUsage().heapUsed;
    }

    for (const m of replies) {
      expect(['ack', 'error']).toContain(m.type);
      if (m.type === 'error') {
        expect(codes.has(m.code), m.code).toBe(true);
        expect(typeof m.message).toBe('string');
        expect(m.message.length).toBeLessThan(400);
        expect(m.message).not.toContain('u:p@');
        countsByCode.set(m.code, (countsByCode.get(m.code) ?? 0) + 1);
      }
    }
    for (const code of ['bad_json', 'bad_message', 'unknown_type', 'too_large']) expect(countsByCode.get(code), code).toBeGreaterThan(0);
    expect(badMessages).toBeGreaterThan(1500);
    expect(server.cameras.pushed.length).toBe(expectedPushes);

    // still usable, nothing leaked server-side
    expect(c.closed).toBeNull();
    expect(await c.request({ type: 'subscribe', id: 'final', cameras: ['z'] })).toMatchObject({ type: 'ack' });
    const registry = server.app.get(ConnectionRegistry);
    expect(registry.size).toBe(1);
    const other = await TestClient.connect(server.wsUrl);
    expect(await other.request({ type: 'camera.list', id: 'x' })).toMatchObject({ type: 'ack' });
    other.close();
    const growthMb = (process.memoryUsage().heapUsed - heapAfterWarmup) / 2 ** 20;
    expect(growthMb).toBeLessThan(96);
    c.close();
  }, 60_000);
});
