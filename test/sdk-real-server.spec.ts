/**
 * The SDK against the real gateway (delivery module, auth, REST) from test/support/server.ts, with fake camera and
 * event sources behind the DI container. A TCP relay in front keeps one address across a server restart.
 */
import { createServer, Socket, type Server } from 'node:net';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { IExpressionClient, IExpressionError, IExpressionRest, type WebSocketCtor } from '../clients/sdk/src';
import type { ServerMessage } from '../src/delivery/protocol';
import { startTestServer, type TestServer } from './support/server';

const ADMIN_TOKEN = 'sdk-admin-token-0123';
const Ws = WebSocket as unknown as WebSocketCtor;

/** Forwards a fixed local port to whichever backend port is current; `cut()` drops live connections. */
class Relay {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  port = 0;
  constructor(public target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }
  async stop(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server?.close(r));
  }
}

function expression(cameraId: string, frameId: number): Extract<ServerMessage, { type: 'expression' }> {
  return {
    type: 'expression',
    cameraId,
    frameId,
    ts: Date.now(),
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

describe('SDK against the real gateway', () => {
  let server: TestServer;
  let relay: Relay;
  const port = (s: TestServer) => Number(new URL(s.url).port);

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_TOKEN });
    relay = new Relay(port(server));
    await relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await server?.close();
  });

  const client = (token: string | null = ADMIN_TOKEN) =>
    new IExpressionClient({ url: `http://127.0.0.1:${relay.port}`, token, WebSocket: Ws, reconnect: { initialMs: 100, maxMs: 500 }, commandTimeoutMs: 3000 });

  it('refuses a wrong or missing token with a typed unauthorized error', async () => {
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
    const odd = await startTestServer({ ADMIN_TOKEN: 'token with spaces/=' });
    try {
      const c = new IExpressionClient({ url: odd.url, token: 'token with spaces/=', WebSocket: Ws });
      await c.connect();
      expect(c.state).toBe('open');
      await expect(c.command('camera.list', {})).resolves.toMatchObject({ type: 'ack', cameras: [] });
      c.close();
    } finally {
      await odd.close();
    }
  });

  it('connects, sends commands, maps errors, subscribes and receives events, and recovers after a restart', async () => {
    const c = client();
    await c.connect();
    expect(c.hello).toMatchObject({ authenticated: true, scope: 'admin' });

    const added = await c.command('camera.add', { url: 'rtsp://user:pw@10.0.0.1/s', name: 'door' });
    expect(added.camera).toMatchObject({ name: 'door' });
    expect(JSON.stringify(added)).not.toContain('pw@');
    const cameraId = added.camera!.id;
    await expect(c.command('camera.add', { url: 'gopher://x' })).rejects.toMatchObject({ code: 'invalid_url' });
    await expect(c.command('camera.remove', { cameraId: 'nope' })).rejects.toMatchObject({ code: 'not_found' });

    await c.subscribe({ cameras: [cameraId] });
    const first = firstValueFrom(c.observe('expression'));
    server.events.events$.next(expression('other', 1)); // not subscribed: filtered by the server
    server.events.events$.next(expression(cameraId, 2));
    expect(await first).toMatchObject({ cameraId, frameId: 2, faces: [{ label: 'happy' }] });

    // Restart: a new server process state on a new port, the relay points at it; the client reconnects and
    // resubscribes by itself, and events flow again.
    const old = server;
    server = await startTestServer({ ADMIN_TOKEN });
    server.cameras.add({ url: 'rtsp://10.0.0.1/s', name: 'door' }); // "from SQLite": same id cam1 after restart
    relay.target = port(server);
    const reconnected = firstValueFrom(c.reconnected$);
    const states: string[] = [];
    const watch = c.state$.subscribe((s) => states.push(s));
    await old.close();
    relay.cut();
    await reconnected;
    watch.unsubscribe();
    expect(states).toContain('reconnecting');
    expect(c.state).toBe('open');
    const again = firstValueFrom(c.observe('expression').pipe(filter((e) => e.frameId === 7)));
    // The resubscribe is acknowledged before reconnected$ fires, so the server already routes this camera to us.
    server.events.events$.next(expression(cameraId, 7));
    expect(await again).toMatchObject({ cameraId, frameId: 7 });
    c.close();
  });

  it('REST helpers: cameras CRUD with the bearer token, typed errors', async () => {
    const rest = new IExpressionRest({ baseUrl: server.url, token: ADMIN_TOKEN });
    const created = await rest.addCamera({ url: 'file:///videos/a.mp4', name: 'rest-cam' });
    expect(created).toMatchObject({ name: 'rest-cam' });
    expect((await rest.listCameras()).some((c) => c.id === created.id)).toBe(true);
    expect(await rest.getCamera(created.id)).toMatchObject({ id: created.id });
    await rest.removeCamera(created.id);
    await expect(rest.getCamera(created.id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(rest.addCamera({ url: 'gopher://x' })).rejects.toMatchObject({ status: 400 });
    await expect(new IExpressionRest({ baseUrl: server.url }).listCameras()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
  });
});
