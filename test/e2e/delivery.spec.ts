import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/contracts/messages';
import { decodePreview } from '../../src/contracts/wire';
import { ConnectionRegistry } from '../../src/delivery/connection.registry';
import { startTestServer, TestClient, type TestServer } from '../support/server';

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
const isType = (t: string) => (m: { type: string }) => m.type === t;

function expression(cameraId: string, frameId: number): Msg<'expression'> {
  return {
    type: 'expression',
    cameraId,
    frameId,
    ts: Date.now() - 5,
    latencyMs: 0,
    width: 640,
    height: 480,
    faces: [
      {
        trackId: 1,
        box: { x: 10, y: 20, w: 100, h: 120 },
        label: 'happy',
        scores: { angry: 0, disgust: 0, fear: 0, happy: 0.9, sad: 0, surprise: 0, neutral: 0.1 },
        confidence: 0.95,
        userId: null,
        personalized: false,
      },
    ],
  };
}

describe('delivery end to end (no token configured, loopback)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ WS_MAX_TEXT_BYTES: '4096', WS_MAX_BINARY_BYTES: '8192' });
  });
  afterAll(() => server.close());

  it('greets, adds a camera over WS, and answers typed errors without closing', async () => {
    const c = await TestClient.connect(server.wsUrl);
    expect(await c.next(isType('hello'))).toMatchObject({ protocol: 1, authenticated: true, scope: 'admin' });

    const ack = await c.request<Msg<'ack'>>({ type: 'camera.add', id: 'a1', url: 'rtsp://user:secret@10.0.0.1/s', name: 'door' });
    expect(ack).toMatchObject({ type: 'ack', id: 'a1', camera: { name: 'door', status: 'connecting' } });
    expect(JSON.stringify(ack)).not.toContain('secret');

    c.send('{not json');
    expect(await c.next(isType('error'))).toMatchObject({ id: null, code: 'bad_json' });
    expect(await c.request({ type: 'teleport', id: 'u1' })).toMatchObject({ type: 'error', id: 'u1', code: 'unknown_type' });
    const missing = await c.request<Msg<'error'>>({ type: 'camera.remove', id: 'm1' });
    expect(missing).toMatchObject({ code: 'bad_message' });
    expect(missing.message).toContain('cameraId');
    const mistyped = await c.request<Msg<'error'>>({ type: 'subscribe', id: 'm2', cameras: 42 });
    expect(mistyped.code).toBe('bad_message');
    expect(mistyped.message).toContain('cameras');
    c.send(JSON.stringify({ type: 'camera.list', id: 'big', pad: 'x'.repeat(5000) }));
    expect(await c.next(isType('error'))).toMatchObject({ code: 'too_large' });
    c.send(Buffer.alloc(9000));
    expect(await c.next(isType('error'))).toMatchObject({ code: 'too_large' });
    expect(await c.request({ type: 'camera.remove', id: 'nf', cameraId: 'nope' })).toMatchObject({ code: 'not_found' });
    expect(await c.request({ type: 'camera.add', id: 'bad', url: 'gopher://x' })).toMatchObject({ code: 'invalid_url' });

    // Still usable after all that.
    const list = await c.request<Msg<'ack'>>({ type: 'camera.list', id: 'l1' });
    expect((list.cameras as { name: string }[]).map((x) => x.name)).toContain('door');
    expect(c.closed).toBeNull();
    c.close();
  });

  it('fans events out only to subscribers of that camera, and camera.removed on remove', async () => {
    const a = await TestClient.connect(server.wsUrl);
    const b = await TestClient.connect(server.wsUrl);
    const all = await TestClient.connect(server.wsUrl);
    expect(await a.request({ type: 'subscribe', id: 's', cameras: ['camA'] })).toMatchObject({ type: 'ack', cameras: ['camA'] });
    expect(await b.request({ type: 'subscribe', id: 's', cameras: ['camB'] })).toMatchObject({ type: 'ack' });
    expect(await all.request({ type: 'subscribe', id: 's', cameras: '*' })).toMatchObject({ type: 'ack', cameras: '*' });

    server.events.events$.next(expression('camA', 1));
    server.events.events$.next(expression('camB', 2));
    server.events.events$.next({ type: 'face.enter', cameraId: 'camA', trackId: 1, ts: Date.now(), userId: null });
    server.cameras.status$.next({ cameraId: 'camB', state: 'reconnecting', reason: 'rtsp://u:pw@h/x went away', ts: Date.now() });

    const ea = await a.next<Msg<'expression'>>(isType('expression'));
    expect(ea).toMatchObject({ cameraId: 'camA', frameId: 1, faces: [{ label: 'happy', trackId: 1 }] });
    expect(ea.latencyMs).toBeGreaterThanOrEqual(5);
    expect(await a.next(isType('face.enter'))).toMatchObject({ cameraId: 'camA', trackId: 1 });
    expect(await b.next(isType('expression'))).toMatchObject({ cameraId: 'camB', frameId: 2 });
    const st = await b.next<Msg<'camera.status'>>(isType('camera.status'));
    expect(st).toMatchObject({ cameraId: 'camB', state: 'reconnecting' });
    expect(st.reason).not.toContain('pw');
    await all.next((m) => m.type === 'expression' && m.cameraId === 'camA');
    await all.next((m) => m.type === 'expression' && m.cameraId === 'camB');

    // Round-trip a request so anything wrongly fanned out would have arrived by now.
    await a.request({ type: 'camera.list', id: 'sync' });
    await b.request({ type: 'camera.list', id: 'sync' });
    expect(a.received.filter((m) => 'cameraId' in m && m.cameraId === 'camB')).toEqual([]);
    expect(b.received.filter((m) => 'cameraId' in m && m.cameraId === 'camA')).toEqual([]);

    // unsubscribe stops them
    await all.request({ type: 'unsubscribe', id: 'u', cameras: ['camA'] });
    server.events.events$.next(expression('camA', 3));
    server.events.events$.next(expression('camB', 4));
    expect(await all.next(isType('expression'))).toMatchObject({ cameraId: 'camB', frameId: 4 });
    expect(await a.next(isType('expression'))).toMatchObject({ frameId: 3 });

    const added = await a.request<Msg<'ack'>>({ type: 'camera.add', id: 'add', url: 'file:///v.mp4', name: 'gone-soon' });
    const id = (added.camera as { id: string }).id;
    await all.request({ type: 'subscribe', id: 's2', cameras: [id] });
    expect(await a.request({ type: 'camera.remove', id: 'rm', cameraId: id })).toMatchObject({ type: 'ack', cameraId: id });
    expect(await all.next(isType('camera.removed'))).toEqual({ type: 'camera.removed', cameraId: id });
    for (const c of [a, b, all]) c.close();
  });

  it('drops events for a client that does not read, without holding up the others', async () => {
    const fast = await TestClient.connect(server.wsUrl);
    const slow = await TestClient.connect(server.wsUrl);
    await fast.request({ type: 'subscribe', id: 's', cameras: ['busy'] });
    await slow.request({ type: 'subscribe', id: 's', cameras: ['busy'] });
    // Simulate a client whose socket buffer is full: the server sees a large bufferedAmount.
    const registry = server.app.get(ConnectionRegistry);
    const [, slowConn] = [...registry].filter((c) => c.events.has('busy'));
    Object.defineProperty(slowConn.socket, 'bufferedAmount', { get: () => 10 * server.config.WS_MAX_BUFFERED_BYTES });
    for (let i = 0; i < 50; i++) server.events.events$.next(expression('busy', i));
    for (let i = 0; i < 50; i++) expect(await fast.next(isType('expression'))).toMatchObject({ frameId: i });
    expect(slowConn.droppedEvents).toBe(50);
    const metrics = await request(server.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/iexpr_ws_events_dropped_total\{type="expression"\} 50/);
    fast.close();
    slow.close();
  });

  it('pushes browser frames on the channel from browser.open and rejects bad binary frames', async () => {
    const c = await TestClient.connect(server.wsUrl);
    const ack = await c.request<Msg<'ack'>>({ type: 'browser.open', id: 'b', name: 'webcam', fps: 5 });
    expect(ack).toMatchObject({ channel: 0 });
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
    c.send(Buffer.concat([Buffer.from([ack.channel as number]), jpeg]));
    c.send(Buffer.concat([Buffer.from([7]), jpeg]));
    expect(await c.next(isType('error'))).toMatchObject({ code: 'bad_message', id: null });
    c.send(Buffer.concat([Buffer.from([0]), Buffer.from('GIF89a....')]));
    expect((await c.next<Msg<'error'>>(isType('error'))).message).toContain('not a JPEG, WebP or PNG image');
    c.send(Buffer.concat([Buffer.from([0]), jpeg, Buffer.from('BAD')]));
    expect(await c.next(isType('error'))).toMatchObject({ code: 'bad_message', message: 'binary frame: frame could not be decoded' });
    await c.request({ type: 'camera.list', id: 'sync' });
    expect(server.cameras.pushed).toEqual([{ cameraId: ack.cameraId, bytes: jpeg.length }]);
    c.close();
    await c.waitClose();
    await vi_waitFor(() => server.cameras.closedBrowser.includes(ack.cameraId as string));
  });

  it('sends JPEG previews only to clients that asked, at most PREVIEW_FPS per camera', async () => {
    const viewer = await TestClient.connect(server.wsUrl);
    const plain = await TestClient.connect(server.wsUrl);
    await viewer.request({ type: 'subscribe', id: 's', cameras: ['p1'], preview: true });
    await plain.request({ type: 'subscribe', id: 's', cameras: ['p1'] });
    const width = 64;
    const height = 48;
    const data = Buffer.alloc(width * height * 3);
    for (let i = 0; i < data.length; i += 3) data[i] = 255; // pure blue in BGR
    const ts = Date.now();
    for (let f = 0; f < 10; f++) server.cameras.frames$.next({ cameraId: 'p1', frameId: f, ts, width, height, data });
    const bin = await viewer.next<{ type: 'binary'; data: Buffer }>(isType('binary'));
    const preview = decodePreview(bin.data);
    expect(preview).toMatchObject({ cameraId: 'p1', ts });
    const sharp = (await import('sharp')).default;
    const { data: px, info } = await sharp(Buffer.from(preview!.jpeg)).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(width);
    expect(px[2]).toBeGreaterThan(200); // blue channel of the first RGB pixel
    expect(px[0]).toBeLessThan(60);
    await new Promise((r) => setTimeout(r, 100));
    expect(viewer.received.filter((m) => m.type === 'binary')).toHaveLength(0); // 10 frames at once -> 1 preview
    await plain.request({ type: 'camera.list', id: 'sync' });
    expect(plain.received.filter((m) => m.type === 'binary')).toHaveLength(0);
    viewer.close();
    plain.close();
  });

  it('REST: cameras CRUD, 400 with the field, 404, health, docs, metrics', async () => {
    const http = request(server.url);
    const created = await http.post('/api/cameras').send({ url: 'rtsp://admin:hunter2@cam.local/live', name: 'gate', fps: 5 }).expect(201);
    expect(created.body).toMatchObject({ name: 'gate', fps: 5, status: 'connecting' });
    expect(JSON.stringify(created.body)).not.toContain('hunter2');
    const id = created.body.id as string;
    expect((await http.get('/api/cameras').expect(200)).body.map((c: { id: string }) => c.id)).toContain(id);
    expect((await http.get(`/api/cameras/${id}`).expect(200)).body).toMatchObject({ id, status: 'connecting' });
    expect((await http.post(`/api/cameras/${id}/retry`).expect(200)).body).toMatchObject({ id });
    await http.delete(`/api/cameras/${id}`).expect(204);
    expect((await http.get(`/api/cameras/${id}`).expect(404)).body).toMatchObject({ error: 'not_found' });
    await http.delete(`/api/cameras/${id}`).expect(404);

    const bad = await http.post('/api/cameras').send({ name: 'no-url', fps: 'fast' }).expect(400);
    expect(bad.body.error).toBe('bad_message');
    expect(bad.body.message).toContain('url');
    expect(bad.body.message).toContain('fps');
    expect((await http.post('/api/cameras').send({ url: 'ftp://x/y' }).expect(400)).body.error).toBe('invalid_url');
    await http.post('/api/cameras').send({ url: 'file:///a.mp4', name: 'dup' }).expect(201);
    expect((await http.post('/api/cameras').send({ url: 'file:///b.mp4', name: 'dup' }).expect(409)).body.error).toBe('conflict');
    const notJson = await http.post('/api/cameras').set('Content-Type', 'application/json').send('{"url":"rtsp://a:pw9@h/"').expect(400);
    expect(notJson.body).toEqual({ statusCode: 400, error: 'bad_json', message: 'body is not valid JSON' });
    const huge = await http.post('/api/cameras').set('Content-Type', 'application/json').send(JSON.stringify({ url: 'x'.repeat(300_000) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('too_large');
    expect((await http.get('/api/nothing-here').expect(404)).body).toMatchObject({ statusCode: 404, error: 'not_found' });

    const health = await http.get('/api/health').expect(200);
    expect(health.body).toMatchObject({ ok: true, version: '0.1.0' });
    expect(typeof health.body.uptime).toBe('number');
    const docs = await http.get('/api/docs-json').expect(200);
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/cameras', '/api/cameras/{id}', '/api/health']));
    expect(docs.body.paths['/api/cameras'].post.requestBody.content['application/json'].schema.properties.url).toBeDefined();
    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toContain('iexpr_ws_connections');
    expect(metrics.text).toContain('process_resident_memory_bytes');
    expect(metrics.text).not.toContain('hunter2');
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('shutdown', () => {
  it('closes sockets with 1001 and a reason when the app closes', async () => {
    const server = await startTestServer();
    const c = await TestClient.connect(server.wsUrl);
    await c.next(isType('hello'));
    const closing = c.waitClose(5000);
    await server.close();
    expect(await closing).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});
