/**
 * The write acknowledgement at the edge of a REAL clustered server (AppModule with NATS_URL: ReplicatedStorageModule,
 * the REST interceptor, the WS command router): a REST write answers only once JetStream holds it (read straight from
 * the bucket the moment the answer arrives); a WS command's ack likewise; while NATS is down a write answers 503
 * `unavailable` and leaves nothing behind, here or in the cluster.
 */
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AppModule } from '../../src/app.module';
import { joinCluster } from '../../src/cluster/cluster.module';
import { connectNats, NatsJsLink } from '../../src/cluster/nats-js.link';
import { loadConfig } from '../../src/config';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from '../../src/delivery/http-edge';
import { GatewayWsAdapter } from '../../src/delivery/ws.adapter';
import { escapeKeyPart } from '../../src/storage/replicated/kv-keys';
import { NatsServer, requireNatsServer, startNatsServer } from '../support/nats';

const hasNats = requireNatsServer();
const ADMIN = 'admin-token-cluster-state';
const auth = { Authorization: `Bearer ${ADMIN}` };

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!hasNats)('write acknowledgement at the edge of a clustered server', () => {
  let nats: NatsServer;
  let app: NestExpressApplication;
  let url: string;
  let observer: NatsJsLink;

  beforeAll(async () => {
    nats = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'iexpr-cluster-edge-'));
    const config = loadConfig({
      ...process.env,
      DATA_DIR: dataDir,
      MODELS_DIR: join(__dirname, '..', '..', 'models'),
      ADMIN_TOKEN: ADMIN,
      NATS_URL: nats.url,
      NODE_ID: 'edge-a',
    });
    const cluster = await joinCluster(config, 'edge-a');
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, { cluster }), { ...HTTP_EDGE_OPTIONS, logger: ['error'] });
    configureHttpEdge(app);
    app.useWebSocketAdapter(new GatewayWsAdapter(app));
    app.enableShutdownHooks();
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    observer = await connectNats({ servers: nats.url, name: 'observer', replicas: 1 });
  }, 90_000);

  afterAll(async () => {
    await observer?.close().catch(() => {});
    await app?.close().catch(() => {});
    await nats?.stop();
  });

  it('a REST write is in JetStream when its answer arrives', async () => {
    const users = await observer.kv('iex-state-users');
    const res = await request(url).post('/api/users').set(auth).send({ name: 'Ada' }).expect(201);
    const id = (res.body as { id: string }).id;
    const stored = await users.get(escapeKeyPart(id));
    expect(stored).not.toBeNull();
    expect(JSON.parse(new TextDecoder().decode(stored!.value))).toMatchObject({ id, name: 'Ada' });
  });

  it('a WS command is acked once its writes are in JetStream', async () => {
    const cameras = await observer.kv('iex-state-cameras');
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
    const messages: { type: string; id?: string; [k: string]: unknown }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    ws.send(JSON.stringify({ type: 'auth', token: ADMIN, id: 'a1' }));
    await until('auth ack', () => messages.some((m) => m.id === 'a1'));
    ws.send(JSON.stringify({ type: 'camera.add', id: 'c1', name: 'Door', url: 'rtsp://127.0.0.1:9/none', fps: 1 }));
    await until('camera.add answered', () => messages.some((m) => m.id === 'c1'));
    const answer = messages.find((m) => m.id === 'c1')!;
    ws.close();
    expect(answer.type).toBe('ack');
    const cameraId = (answer.camera as { id: string } | undefined)?.id ?? (answer.cameraId as string);
    expect(await cameras.get(escapeKeyPart(cameraId))).not.toBeNull();
  });

  it('while NATS is down a write answers 503 unavailable and nothing is written anywhere', async () => {
    await nats.kill();
    await until('the node sees NATS gone', async () => {
      const res = await request(url).post('/api/users').set(auth).send({ name: 'Ghost' });
      return res.status === 503;
    });
    const res = await request(url).post('/api/users').set(auth).send({ name: 'Ghost' }).expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, error: 'unavailable' });
    const local = await request(url).get('/api/users').set(auth).expect(200);
    expect((local.body as { name: string }[]).map((u) => u.name)).not.toContain('Ghost');
    await nats.restart();
    await until('observer back', () => observer.status() === 'connected', 30_000);
    const users = await observer.kv('iex-state-users');
    const names: string[] = [];
    for (const k of await users.keys()) names.push((JSON.parse(new TextDecoder().decode((await users.get(k))!.value)) as { name: string }).name);
    expect(names).toContain('Ada');
    expect(names).not.toContain('Ghost');
    // and the node takes writes again once it is back
    await until('writes accepted again', async () => (await request(url).post('/api/users').set(auth).send({ name: 'Back' })).status === 201, 30_000);
  }, 90_000);
});
