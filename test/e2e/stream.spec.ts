/**
 * The product's main job, end to end on the real server (AppModule, listen(0)): cameras from a local RTSP server,
 * a file and browser-pushed frames go through ffmpeg, YuNet and the expression CNN, and expression events with faces
 * arrive over the WebSocket. Faults: the RTSP server killed and restarted, and frozen (SIGSTOP).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/contracts/messages';
import { WS_SUBPROTOCOL } from '../../src/contracts/wire';
import { RealApp, startRealApp } from '../support/app';
import { D6 } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith, requireRtspServer, startRtspServer, RtspServer } from '../support/rtsp';
import { TestClient, Received } from '../support/server';

const VIDEO = D6;
const hasVideo = existsSync(VIDEO);
if (!hasVideo) console.warn(`skipping: ${VIDEO} not found (the face videos live in ../shared/videos)`);
const ffmpeg = requireTool('ffmpeg', 'ffmpeg');
const rtspOk = hasVideo && !!ffmpeg && requireRtspServer();

type Expression = Extract<ServerMessage, { type: 'expression' }>;
const isFaceEvent = (cameraId: string) => (m: Received) =>
  m.type === 'expression' && m.cameraId === cameraId && m.faces.length > 0;
const isStatus = (cameraId: string, state: string) => (m: Received) =>
  m.type === 'camera.status' && m.cameraId === cameraId && m.state === state;

describe.skipIf(!hasVideo || !ffmpeg)('streaming end to end (real server)', () => {
  let server: RealApp;
  let client: TestClient;

  beforeAll(async () => {
    server = await startRealApp({ WATCHDOG_SECONDS: '3', BACKOFF_BASE_MS: '200', BACKOFF_MAX_MS: '1000' });
    client = await TestClient.connect(server.wsUrl, { protocols: [WS_SUBPROTOCOL] });
    await client.next((m) => m.type === 'hello');
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it('a file camera gives expression events with a face, and leaves no ffmpeg behind when removed', async () => {
    const res = await request(server.url).post('/api/cameras').send({ url: `file://${VIDEO}`, loop: true, fps: 10 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    expect((await client.request({ type: 'subscribe', id: 's-file', cameras: [id] })).type).toBe('ack');
    const t0 = Date.now();
    const ev = await client.next<Expression>(isFaceEvent(id), 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const face = ev.faces[0];
    const sum = Object.values(face.scores).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 3);
    expect(face.box.w).toBeGreaterThan(50);
    expect(face.box.x + face.box.w).toBeLessThanOrEqual(ev.width + 1);
    expect(ev.latencyMs).toBeGreaterThanOrEqual(0);
    expect(face.userId).toBeNull();
    expect(face.personalized).toBe(false);
    expect(ffmpegProcessesWith(VIDEO).length).toBeGreaterThan(0);

    const status = await request(server.url).get(`/api/cameras/${id}`);
    expect(status.body.status).toBe('streaming');
    expect((await request(server.url).delete(`/api/cameras/${id}`)).status).toBeLessThan(300);
    await client.next((m) => m.type === 'face.leave' && m.cameraId === id, 5000);
    await client.next((m) => m.type === 'camera.removed' && m.cameraId === id, 5000);
    const deadline = Date.now() + 5000;
    while (ffmpegProcessesWith(VIDEO).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ffmpegProcessesWith(VIDEO)).toEqual([]);
  });

  it('frames pushed over the WebSocket give expression events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'push-'));
    const r = spawnSync(ffmpeg!, ['-nostdin', '-loglevel', 'error', '-i', VIDEO, '-vf', 'fps=5', '-frames:v', '10', '-q:v', '4', join(dir, 'f%02d.jpg')]);
    expect(r.status).toBe(0);
    const frames = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
    const ack = await client.request<Extract<Received, { type: 'ack' }>>({ type: 'browser.open', id: 'b1', name: 'my webcam', fps: 10 });
    expect(ack.type).toBe('ack');
    const { cameraId, channel } = ack as unknown as { cameraId: string; channel: number };
    await client.request({ type: 'subscribe', id: 's-browser', cameras: [cameraId] });
    let i = 0;
    const timer = setInterval(() => client.send(Buffer.concat([Buffer.from([channel]), frames[i++ % frames.length]])), 100);
    try {
      const ev = await client.next<Expression>(isFaceEvent(cameraId), 10_000);
      expect(ev.faces[0].label).toMatch(/angry|disgust|fear|happy|sad|surprise|neutral/);
    } finally {
      clearInterval(timer);
    }
  });

  it('bad input gets typed errors and the server keeps serving', async () => {
    const bad = await request(server.url).post('/api/cameras').send({ url: 'gopher://x/y' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_url');
    const notVideo = join(mkdtempSync(join(tmpdir(), 'nv-')), 'notes.mp4');
    writeFileSync(notVideo, 'this is not a video');
    const nv = await request(server.url).post('/api/cameras').send({ url: `file://${notVideo}` });
    expect(nv.status).toBe(400);
    expect(nv.body.message).toMatch(/video|invalid|ffmpeg/i);
    // an unreachable host is accepted (it may come back) and says why it cannot stream
    const unreachable = await request(server.url).post('/api/cameras').send({ url: 'rtsp://127.0.0.1:1/nothing' });
    expect(unreachable.status).toBe(201);
    await client.request({ type: 'subscribe', id: 's-unreachable', cameras: [unreachable.body.id] });
    const down = await client.next<Extract<Received, { type: 'camera.status' }>>(
      (m) => m.type === 'camera.status' && m.cameraId === unreachable.body.id && (m.state === 'reconnecting' || m.state === 'failed'),
      10_000,
    );
    expect(down.reason).toMatch(/refused|ffmpeg|exited|connect/i);
    expect((await request(server.url).delete(`/api/cameras/${unreachable.body.id}`)).status).toBeLessThan(300);
    client.send('{not json');
    expect((await client.next((m) => m.type === 'error')).type).toBe('error');
    const e = await client.request({ type: 'camera.add', id: 'x1', url: 42 });
    expect(e).toMatchObject({ type: 'error', id: 'x1', code: 'bad_message' });
    const unknown = await client.request({ type: 'camera.explode', id: 'x2' });
    expect(unknown).toMatchObject({ type: 'error', code: 'unknown_type' });
    expect((await request(server.url).get('/api/health')).status).toBe(200);
  });

  describe.skipIf(!rtspOk)('RTSP', () => {
    let rtsp: RtspServer;
    beforeAll(async () => {
      rtsp = await startRtspServer(VIDEO);
    }, 60_000);
    afterAll(async () => {
      rtsp?.thaw();
      await rtsp?.kill();
    });

    it('streams, survives the server dying and freezing, and cleans up', async () => {
      const url = rtsp.url.replace('rtsp://', 'rtsp://viewer:s3cret@');
      const add = await client.request<Extract<Received, { type: 'ack' }>>({ type: 'camera.add', id: 'r1', url, fps: 10 });
      expect(add.type, JSON.stringify(add)).toBe('ack');
      expect(JSON.stringify(add)).not.toContain('s3cret');
      const id = (add as unknown as { camera: { id: string } }).camera.id;
      await client.request({ type: 'subscribe', id: 's-rtsp', cameras: [id] });
      await client.next(isFaceEvent(id), 10_000);

      await rtsp.kill();
      await client.next(isStatus(id, 'reconnecting'), 10_000);
      await rtsp.restart();
      const back = Date.now();
      await client.next(isStatus(id, 'streaming'), 15_000);
      client.received.length = 0;
      await client.next(isFaceEvent(id), 15_000);
      expect(Date.now() - back).toBeLessThan(15_000);

      rtsp.freeze();
      await client.next(isStatus(id, 'reconnecting'), 10_000); // watchdog: no frame for 3 s
      rtsp.thaw();
      await client.next(isStatus(id, 'streaming'), 15_000);

      const list = await request(server.url).get('/api/cameras');
      expect(JSON.stringify(list.body)).not.toContain('s3cret');
      await client.request({ type: 'camera.remove', id: 'r2', cameraId: id });
      const deadline = Date.now() + 5000;
      while (ffmpegProcessesWith(`127.0.0.1:${rtsp.port}`).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(ffmpegProcessesWith(`127.0.0.1:${rtsp.port}`)).toEqual([]);
    }, 90_000);
  });
});
