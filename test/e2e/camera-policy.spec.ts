/**
 * Camera URL safety on the whole server (AppModule, listen(0)) with a fake resolver (no DNS): link-local and
 * cloud-metadata destinations refused (literal and by name, at add and again at restart), private/loopback cameras
 * accepted, secrets in query strings redacted in views, events, errors and logs, a camera's userId must name a user,
 * and a read-scope client sees only a category for a camera whose upstream answered 403.
 */
import { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../src/app.module';
import { loadConfig } from '../../src/config';
import type { CameraView } from '../../src/contracts/cameras';
import type { ServerMessage } from '../../src/contracts/messages';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from '../../src/delivery/http-edge';
import { GatewayWsAdapter } from '../../src/delivery/ws.adapter';
import { HOST_RESOLVER, HostResolver } from '../../src/ingest/destination-policy';
import { MODELS } from '../support/paths';
import { Received, TestClient } from '../support/server';

const ADMIN = 'admin-token-camera-policy';
const READ = 'read-token-camera-policy';
const SECRET = 's3cr3tQueryValue';

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** Every log line the server writes. */
class CaptureLogger implements LoggerService {
  readonly lines: string[] = [];
  private add = (level: string) => (message: unknown, ...rest: unknown[]) => {
    this.lines.push(`${level} ${[message, ...rest].map((x) => (x instanceof Error ? x.stack : String(x))).join(' ')}`);
  };
  log = this.add('log');
  error = this.add('error');
  warn = this.add('warn');
  debug = this.add('debug');
  verbose = this.add('verbose');
}

async function startApp(env: Record<string, string>, resolver: HostResolver) {
  const dir = mkdtempSync(join(tmpdir(), 'iex-campolicy-'));
  const config = loadConfig({
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    MODELS_DIR: MODELS,
    ADMIN_TOKEN: ADMIN,
    READ_TOKEN: READ,
    BACKOFF_BASE_MS: '50',
    MAX_RESTARTS: '1',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(HOST_RESOLVER)
    .useValue(resolver)
    .compile();
  const logger = new CaptureLogger();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ ...HTTP_EDGE_OPTIONS, logger });
  configureHttpEdge(app);
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    app,
    logger,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('camera destinations, reasons, redaction and owners (real app, fake resolver)', () => {
  const names: Record<string, string[]> = {
    'meta.attacker.test': ['192.168.1.30', '169.254.169.254'],
    'v6.attacker.test': ['fe80::1'],
    'cam.lan.test': ['127.0.0.1'],
    'flip.test': ['127.0.0.1'],
  };
  const resolver: HostResolver = {
    lookup: (host) => (names[host] ? Promise.resolve(names[host]) : Promise.reject(new Error(`ENOTFOUND ${host}`))),
  };
  let server: Awaited<ReturnType<typeof startApp>>;
  let forbidden: Server;
  let forbiddenPort: number;
  let closedPort: number;
  const admin = () => ({ Authorization: `Bearer ${ADMIN}` });

  beforeAll(async () => {
    // the "camera": answers every request with 403 and a body a client must never see
    forbidden = createServer((_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('internal-banner-do-not-relay');
    });
    await new Promise<void>((r) => forbidden.listen(0, '127.0.0.1', r));
    forbiddenPort = (forbidden.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    server = await startApp({}, resolver);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await new Promise((r) => forbidden?.close(r));
  });

  const list = async (): Promise<CameraView[]> => (await request(server.url).get('/api/cameras').set(admin()).expect(200)).body;
  const remove = (id: string) => request(server.url).delete(`/api/cameras/${id}`).set(admin()).expect(204);

  it('refuses metadata and link-local destinations (literal, by name, IPv6, IPv4-mapped) with 400 destination_forbidden, storing nothing', async () => {
    const before = (await list()).length;
    for (const url of [
      `http://169.254.169.254/latest/meta-data/?token=${SECRET}`,
      'http://meta.attacker.test/latest/meta-data/',
      'rtsp://metadata.google.internal/x',
      'rtsp://[fe80::1]:554/live',
      'http://v6.attacker.test/x',
      'http://[::ffff:169.254.169.254]/x',
      'rtsp://169.254.10.20/x',
    ]) {
      const res = await request(server.url).post('/api/cameras').set(admin()).send({ url });
      expect(res.status, url).toBe(400);
      expect(res.body.error, url).toBe('destination_forbidden');
      expect(res.body.message, url).toMatch(/link-local|metadata/);
      expect(res.body.message, url).toContain('CAMERA_ALLOW_LINK_LOCAL');
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
    }
    const ws = await TestClient.connect(server.wsUrl, { headers: admin() });
    const err = await ws.request<Msg<'error'>>({ type: 'camera.add', id: 'm1', url: 'http://meta.attacker.test/computeMetadata/v1/' });
    expect(err).toMatchObject({ type: 'error', code: 'destination_forbidden' });
    expect(err.message).toContain('169.254.169.254');
    ws.close();
    expect((await list()).length).toBe(before);
  });

  it('accepts private and loopback cameras, by address and by name', async () => {
    for (const url of ['rtsp://192.168.1.20/x', `rtsp://127.0.0.1:${closedPort}/x`, `http://cam.lan.test:${closedPort}/x`, 'rtsp://[::1]:9/x']) {
      const res = await request(server.url).post('/api/cameras').set(admin()).send({ url });
      expect(res.status, url).toBe(201);
      await remove(res.body.id);
    }
  });

  it('checks again before a restart: a name that now resolves to a metadata address fails the camera, without details', async () => {
    names['flip.test'] = ['127.0.0.1'];
    const created = await request(server.url).post('/api/cameras').set(admin()).send({ url: `http://flip.test:${closedPort}/x` }).expect(201);
    names['flip.test'] = ['169.254.169.254'];
    await request(server.url).post(`/api/cameras/${created.body.id}/retry`).set(admin()).expect(200);
    let view: CameraView | undefined;
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      view = (await request(server.url).get(`/api/cameras/${created.body.id}`).set(admin()).expect(200)).body;
      if (view?.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(view).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^destination forbidden/) });
    expect(view!.reason).not.toContain('169.254');
    expect(server.logger.lines.some((l) => l.includes(`camera ${created.body.id} not started`) && l.includes('169.254.169.254'))).toBe(true);
    await remove(created.body.id);
  });

  it('redacts secrets in query strings in the view, the list, events, errors and logs (ffmpeg still gets them)', async () => {
    const url = `http://127.0.0.1:${forbiddenPort}/stream.mjpg?user=viewer&token=${SECRET}&Api_Key=${SECRET}`;
    const read = await TestClient.connect(server.wsUrl, { headers: { Authorization: `Bearer ${READ}` } });
    const created = await request(server.url).post('/api/cameras').set(admin()).send({ url, name: 'door' }).expect(201);
    const id = created.body.id as string;
    await read.request({ type: 'subscribe', id: 's1', cameras: [id] });
    expect(created.body.url).toBe(`http://127.0.0.1:${forbiddenPort}/stream.mjpg?user=viewer&token=***&Api_Key=***`);

    // the upstream answers 403: the read client sees a category, never the status line or the body
    const failed = await read.next<Msg<'camera.status'>>((m: Received) => m.type === 'camera.status' && m.cameraId === id && m.state === 'failed', 20_000);
    expect(failed.reason).toMatch(/^auth required/);
    const asRead = (await request(server.url).get(`/api/cameras/${id}`).set('Authorization', `Bearer ${READ}`).expect(200)).body as CameraView;
    expect(asRead.status).toBe('failed');
    expect(asRead.reason).toMatch(/^auth required/);
    const seen = JSON.stringify([asRead, await list(), read.received, failed]);
    // \b: the status code as a word, not the digits inside the random port (a CI run had 127.0.0.1:40397), a hex id or a ts
    expect(seen).not.toMatch(/\b403\b|Forbidden|access denied|internal-banner/);
    expect(seen).not.toContain(SECRET);

    // an error that quotes the URL quotes it redacted
    const bad = await request(server.url).post('/api/cameras').set(admin()).send({ url: `cam/x?token=${SECRET}` }).expect(400);
    expect(bad.body.message).toContain('token=***');

    // the log keeps the detail (the 403), never the secret
    const logs = server.logger.lines.join('\n');
    expect(logs).toMatch(new RegExp(`camera ${id} failed: auth required.*403`));
    expect(logs).not.toContain(SECRET);
    read.close();
    await remove(id);
  }, 30_000);

  it('a camera userId must name an existing user: 404 and nothing stored otherwise (REST and WS)', async () => {
    const before = (await list()).length;
    const rest = await request(server.url).post('/api/cameras').set(admin()).send({ url: 'rtsp://192.168.1.20/x', userId: '../../etc' });
    expect(rest.status).toBe(404);
    expect(rest.body.error).toBe('not_found');
    const ws = await TestClient.connect(server.wsUrl, { headers: admin() });
    const err = await ws.request<Msg<'error'>>({ type: 'camera.add', id: 'u1', url: 'rtsp://192.168.1.20/x', userId: 'nobody' });
    expect(err).toMatchObject({ type: 'error', code: 'not_found' });
    expect((await list()).length).toBe(before);

    const user = await request(server.url).post('/api/users').set(admin()).send({ name: 'Ada' }).expect(201);
    const ok = await ws.request<Msg<'ack'>>({ type: 'camera.add', id: 'u2', url: 'rtsp://192.168.1.20/x', userId: user.body.id });
    expect(ok.type).toBe('ack');
    const camera = (ok as unknown as { camera: CameraView }).camera;
    expect(camera.userId).toBe(user.body.id);
    ws.close();
    await remove(camera.id);
  });
});

describe('CAMERA_ALLOW_LINK_LOCAL=true', () => {
  it('accepts link-local and metadata destinations', async () => {
    // no ffmpeg: nothing is fetched from these addresses, the test only checks that they are accepted
    const resolver: HostResolver = { lookup: () => Promise.resolve(['169.254.169.254']) };
    const server = await startApp({ CAMERA_ALLOW_LINK_LOCAL: 'true', FFMPEG_PATH: '/nonexistent/ffmpeg' }, resolver);
    try {
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'rtsp://[fe80::1]/x', 'http://meta.attacker.test/x']) {
        const res = await request(server.url).post('/api/cameras').set('Authorization', `Bearer ${ADMIN}`).send({ url });
        expect(res.status, url).toBe(201);
      }
    } finally {
      await server.close();
    }
  }, 60_000);
});
