/**
 * The SDK against the REAL server: the whole AppModule on listen(0) (test/support/app.ts) with the bundled models, a
 * file camera playing ../shared/videos/d6.mp4, real detection and classification. A TCP relay in front keeps one
 * address across a server restart (the second server reuses the data directory, so the camera comes back from SQLite).
 */
import { existsSync, rmSync } from 'node:fs';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { IExpressionClient, IExpressionError, IExpressionRest, type WebSocketCtor } from '../../clients/sdk/src';
import type { AckPayloads, ClientMessageType } from '../../src/contracts/commands';
import type { AuthHandler } from '../../src/delivery/handlers/auth.handler';
import type { BrowserOpenHandler } from '../../src/delivery/handlers/browser-open.handler';
import type * as Delivery from '../../src/delivery/handlers/camera.handlers';
import type * as Subscriptions from '../../src/delivery/handlers/subscription.handlers';
import type * as Personal from '../../src/delivery/handlers/personalization.handlers';
import { startRealApp, type RealApp } from '../support/app';
import { D6 } from '../support/paths';
import { Relay } from '../support/relay';

const ADMIN_TOKEN = 'sdk-admin-token-0123';
const Ws = WebSocket as unknown as WebSocketCtor;
const VIDEO = D6;

// Compile-time: every real handler returns what the SDK's `command()` promises (AckPayloads in src/contracts/commands.ts).
// A mismatch makes a Check `false`, and `true` below stops compiling.
type Returns<H extends { handle(...args: never[]): unknown }> = Awaited<ReturnType<H['handle']>>;
type Check<T extends ClientMessageType, H extends { handle(...args: never[]): unknown }> = [Returns<H>] extends [AckPayloads[T]] ? true : false;
const handlersMatchProtocol: { [T in ClientMessageType]: boolean } & {
  'auth': Check<'auth', AuthHandler>;
  'subscribe': Check<'subscribe', Subscriptions.SubscribeHandler>;
  'unsubscribe': Check<'unsubscribe', Subscriptions.UnsubscribeHandler>;
  'camera.add': Check<'camera.add', Delivery.CameraAddHandler>;
  'camera.remove': Check<'camera.remove', Delivery.CameraRemoveHandler>;
  'camera.list': Check<'camera.list', Delivery.CameraListHandler>;
  'camera.retry': Check<'camera.retry', Delivery.CameraRetryHandler>;
  'browser.open': Check<'browser.open', BrowserOpenHandler>;
  'user.create': Check<'user.create', Personal.UserCreateHandler>;
  'user.list': Check<'user.list', Personal.UserListHandler>;
  'user.rename': Check<'user.rename', Personal.UserRenameHandler>;
  'user.delete': Check<'user.delete', Personal.UserDeleteHandler>;
  'camera.bind': Check<'camera.bind', Personal.CameraBindHandler>;
  'track.assign': Check<'track.assign', Personal.TrackAssignHandler>;
  'calibration.start': Check<'calibration.start', Personal.CalibrationStartHandler>;
  'calibration.cancel': Check<'calibration.cancel', Personal.CalibrationCancelHandler>;
  'finetune.start': Check<'finetune.start', Personal.FinetuneStartHandler>;
  'model.activate': Check<'model.activate', Personal.ModelActivateHandler>;
  'face.enrol': Check<'face.enrol', Personal.FaceEnrolHandler>;
} = {
  'auth': true,
  'subscribe': true,
  'unsubscribe': true,
  'camera.add': true,
  'camera.remove': true,
  'camera.list': true,
  'camera.retry': true,
  'browser.open': true,
  'user.create': true,
  'user.list': true,
  'user.rename': true,
  'user.delete': true,
  'camera.bind': true,
  'track.assign': true,
  'calibration.start': true,
  'calibration.cancel': true,
  'finetune.start': true,
  'model.activate': true,
  'face.enrol': true,
};

describe.skipIf(!existsSync(VIDEO))('SDK against the real server', () => {
  const env = { HOST: '127.0.0.1', ADMIN_TOKEN, BATCH_SIZE: '4' };
  let server: RealApp;
  let relay: Relay;
  const port = (s: RealApp) => Number(new URL(s.url).port);

  beforeAll(async () => {
    server = await startRealApp(env);
    relay = new Relay(port(server));
    await relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  const client = (token: string | null = ADMIN_TOKEN) =>
    new IExpressionClient({ url: `http://127.0.0.1:${relay.port}`, token, WebSocket: Ws, reconnect: { initialMs: 100, maxMs: 500 }, commandTimeoutMs: 5000 });

  it('refuses a wrong or missing token with a typed unauthorized error', async () => {
    expect(Object.values(handlersMatchProtocol).every(Boolean)).toBe(true);
    for (const token of ['wrong-token-xyz', null]) {
      const c = client(token);
      const err = await c.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IExpressionError);
      expect((err as IExpressionError).code).toBe('unauthorized');
      expect(c.state).toBe('unauthorized');
      c.close();
    }
  });

  it('authenticates with an auth message when the token cannot travel as a subprotocol', async () => {
    const odd = await startRealApp({ HOST: '127.0.0.1', ADMIN_TOKEN: 'token with spaces/=' });
    try {
      const c = new IExpressionClient({ url: odd.url, token: 'token with spaces/=', WebSocket: Ws });
      await c.connect();
      expect(c.state).toBe('open');
      await expect(c.command('camera.list', {})).resolves.toMatchObject({ type: 'ack', cameras: [] });
      c.close();
    } finally {
      await odd.close();
      rmSync(odd.dataDir, { recursive: true, force: true });
    }
  });

  it('connects, sends commands, gets typed errors, receives real expression events, and recovers after a restart', async () => {
    const c = client();
    await c.connect();
    expect(c.hello).toMatchObject({ authenticated: true, scope: 'admin' });

    const { camera } = await c.command('camera.add', { url: `file://${VIDEO}`, name: 'd6', loop: true, fps: 10 });
    expect(camera).toMatchObject({ name: 'd6', kind: 'file', loop: true });
    await expect(c.command('camera.add', { url: 'gopher://x' })).rejects.toMatchObject({ code: 'invalid_url' });
    await expect(c.command('camera.remove', { cameraId: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    const { user } = await c.command('user.create', { name: 'Dee' });
    expect(await c.command('camera.bind', { cameraId: camera.id, userId: user.id })).toMatchObject({ cameraId: camera.id, userId: user.id });

    const sub = await c.subscribe({ cameras: [camera.id], preview: true });
    // Real frames through YuNet and the classifier: a face in d6, with scores over the 7 labels, owned by Dee.
    const face = await firstValueFrom(sub.events$.pipe(filter((e) => e.type === 'expression' && e.faces.length > 0)));
    if (face.type !== 'expression') throw new Error('unreachable');
    expect(face).toMatchObject({ cameraId: camera.id, width: expect.any(Number), height: expect.any(Number) });
    expect(face.faces[0]).toMatchObject({ userId: user.id, personalized: false });
    expect(Object.values(face.faces[0].scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    const preview = await firstValueFrom(c.previews$.pipe(filter((p) => p.cameraId === camera.id)));
    expect([...preview.jpeg.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    // Async iterator view of the same stream.
    for await (const e of c.events('expression')) {
      if (e.type === 'expression' && e.cameraId === camera.id) break;
    }

    // Restart: a new server on the same data directory, on a new port; the relay points at it. The client
    // reconnects and resubscribes by itself, and real events for the same camera id flow again.
    const old = server;
    const reconnected = firstValueFrom(c.reconnected$);
    const states: string[] = [];
    const watch = c.state$.subscribe((s) => states.push(s));
    await old.close();
    relay.cut();
    server = await startRealApp(env, old.dataDir);
    relay.target = port(server);
    await reconnected;
    watch.unsubscribe();
    expect(states).toContain('reconnecting');
    expect(c.state).toBe('open');
    const again = await firstValueFrom(c.observe('expression').pipe(filter((e) => e.cameraId === camera.id && e.faces.length > 0)));
    expect(again.faces[0].userId).toBe(user.id);
    const { cameras } = await c.command('camera.list', {});
    expect(cameras.map((x) => x.id)).toContain(camera.id);
    await c.command('camera.remove', { cameraId: camera.id });
    c.close();
  });

  it('REST helpers: cameras and users with the bearer token, typed errors', async () => {
    const rest = new IExpressionRest({ baseUrl: server.url, token: ADMIN_TOKEN });
    expect(await rest.health()).toMatchObject({ ok: true });
    const created = await rest.addCamera({ url: `file://${VIDEO}`, name: 'rest-cam' });
    expect(created).toMatchObject({ name: 'rest-cam', kind: 'file' });
    expect((await rest.listCameras()).some((c) => c.id === created.id)).toBe(true);
    expect(await rest.getCamera(created.id)).toMatchObject({ id: created.id });
    await rest.removeCamera(created.id);
    await expect(rest.getCamera(created.id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(rest.addCamera({ url: 'gopher://x' })).rejects.toMatchObject({ code: 'invalid_url', status: 400 });
    await expect(new IExpressionRest({ baseUrl: server.url }).listCameras()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });

    const user = await rest.createUser('Rae');
    expect(user).toMatchObject({ name: 'Rae', activeVersion: null });
    expect((await rest.listUsers()).some((u) => u.id === user.id)).toBe(true);
    expect(await rest.listModels(user.id)).toEqual([]);
    await expect(rest.startFinetune(user.id)).rejects.toMatchObject({ code: 'too_few_samples' });
    await rest.deleteUser(user.id);
    await expect(rest.listModels(user.id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });
});
