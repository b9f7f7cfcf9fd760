import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { IExpressionClient, IExpressionError, IExpressionRest, type ServerEvent, type WebSocketCtor } from '../../clients/sdk/src';
import { FakeServer } from '../../clients/sdk/testing/fake-server';

const Ws = WebSocket as unknown as WebSocketCtor;
const fakeJpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(options: ConstructorParameters<typeof FakeServer>[0] = {}, clientOptions: { token?: string | null } = {}) {
  const server = await new FakeServer({ previewJpeg: fakeJpeg, eventFps: 20, ...options }).start();
  cleanups.push(() => server.stop());
  const client = new IExpressionClient({
    url: server.url,
    token: 'token' in clientOptions ? clientOptions.token : (server.token ?? undefined),
    WebSocket: Ws,
    reconnect: { initialMs: 50, maxMs: 200 },
    commandTimeoutMs: 2000,
  });
  cleanups.push(() => client.close());
  return { server, client };
}

describe('IExpressionClient (against the fake server)', () => {
  it('connects with a bearer subprotocol and resolves command acks', async () => {
    const { client } = await setup();
    await client.connect();
    expect(client.state).toBe('open');
    const created = await client.command('user.create', { name: 'Ada' });
    expect(created.user?.name).toBe('Ada');
    const listed = await client.command('user.list', {});
    expect(listed.users?.map((u) => u.name)).toEqual(['Ada']);
  });

  it('authenticates with an auth message when the token cannot be a subprotocol', async () => {
    const { server, client } = await setup({ token: 'has space/=' });
    await client.connect();
    expect(server.received[0]).toMatchObject({ type: 'auth', token: 'has space/=' });
    await expect(client.command('camera.list', {})).resolves.toMatchObject({ cameras: [] });
  });

  it('rejects connect() with unauthorized on a bad token and does not retry', async () => {
    const { client } = await setup({}, { token: 'wrong' });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IExpressionError);
    expect((err as IExpressionError).code).toBe('unauthorized');
    expect(client.state).toBe('unauthorized');
    expect(client.lastClose?.code).toBe(4401);
  });

  it('maps server errors to typed IExpressionErrors, and keeps the connection', async () => {
    const { client } = await setup();
    await client.connect();
    const badUrl = await client.command('camera.add', { url: 'ftp://nowhere/x' }).catch((e: unknown) => e);
    expect(badUrl).toBeInstanceOf(IExpressionError);
    expect(badUrl).toMatchObject({ code: 'invalid_url', message: expect.stringContaining('unsupported URL') });
    // The server validates with the shared zod schema: fps over 60 is a bad_message naming the field.
    const badFps = await client.command('camera.add', { url: 'rtsp://cam/1', fps: 500 }).catch((e: unknown) => e);
    expect(badFps).toMatchObject({ code: 'bad_message', message: expect.stringContaining('fps') });
    const missing = await client.command('camera.remove', { cameraId: 'nope' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'not_found' });
    await expect(client.command('camera.list', {})).resolves.toMatchObject({ type: 'ack' });
  });

  it('times out a command the server never answers', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise((r) => silent.close(r)));
    await new Promise((r) => silent.once('listening', r));
    const port = (silent.address() as { port: number }).port;
    const client = new IExpressionClient({ url: `ws://127.0.0.1:${port}/ws`, WebSocket: Ws, commandTimeoutMs: 300, helloTimeoutMs: 100 });
    cleanups.push(() => client.close());
    await client.connect();
    const started = Date.now();
    const err = await client.command('camera.list', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('delivers subscribed events through an async iterator', async () => {
    const { server, client } = await setup();
    const camera = server.addCamera({ url: 'rtsp://cam/1', name: 'Door' });
    server.addCamera({ url: 'rtsp://cam/2', name: 'Other' });
    await client.connect();
    await client.subscribe({ cameras: [camera.id] });
    const seen: ServerEvent[] = [];
    for await (const event of client.events('expression')) {
      seen.push(event);
      if (seen.length === 3) break;
    }
    for (const event of seen) {
      expect(event.type).toBe('expression');
      if (event.type !== 'expression') continue;
      expect(event.cameraId).toBe(camera.id); // the other camera is filtered by the subscription
      expect(event.faces[0].box.w).toBeGreaterThan(0);
      expect(Object.values(event.faces[0].scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('ends async iterators when the client closes', async () => {
    const { client } = await setup();
    await client.connect();
    const iterator = client.events();
    setTimeout(() => client.close(), 50);
    await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('exposes events as Observables and decodes preview frames', async () => {
    const { server, client } = await setup();
    const camera = server.addCamera({ url: 'rtsp://cam/1' });
    await client.connect();
    const sub = await client.subscribe({ cameras: [camera.id], preview: true });
    const statuses = firstValueFrom(client.observe('camera.status').pipe(filter((s) => s.state === 'streaming')));
    const expressions = firstValueFrom(sub.events$.pipe(filter((e) => e.type === 'expression'), take(2), toArray()));
    const preview = await firstValueFrom(client.previews$);
    expect(preview.cameraId).toBe(camera.id);
    expect(preview.ts).toBeGreaterThan(Date.now() - 10_000);
    expect([...preview.jpeg]).toEqual([...fakeJpeg]);
    expect(await expressions).toHaveLength(2);
    await expect(statuses).resolves.toMatchObject({ cameraId: camera.id, state: 'streaming' });
    await sub.unsubscribe();
    expect(server.received.at(-1)).toMatchObject({ type: 'unsubscribe', cameras: [camera.id] });
  });

  it('reconnects after a dropped connection and a server restart, resubscribing each time', async () => {
    const { server, client } = await setup();
    const camera = server.addCamera({ url: 'rtsp://cam/1' });
    await client.connect();
    await client.subscribe({ cameras: [camera.id] });
    const states: string[] = [];
    client.state$.subscribe((s) => states.push(s));

    for (const outage of [() => server.dropConnections(), () => server.restart(300)]) {
      const subscribesBefore = server.received.filter((m) => m.type === 'subscribe').length;
      const reconnected = firstValueFrom(client.reconnected$);
      await outage();
      await reconnected;
      expect(server.received.filter((m) => m.type === 'subscribe').length).toBe(subscribesBefore + 1);
      const event = await firstValueFrom(client.observe('expression'));
      expect(event.cameraId).toBe(camera.id);
    }
    expect(states).toEqual(['open', 'reconnecting', 'open', 'reconnecting', 'open']);
  });

  it('rejects commands in flight when the connection drops, and queues new ones until it is back', async () => {
    const { server, client } = await setup({ secondsPerLabel: 1 });
    await client.connect();
    server.dropConnections();
    const err = await client.command('user.list', {}).catch((e: unknown) => e);
    // sent before the drop was noticed → disconnected; or queued → answered after reconnect
    if (err instanceof IExpressionError) expect(err.code).toBe('disconnected');
    else expect(err).toMatchObject({ type: 'ack' });
    await expect(client.command('user.list', {})).resolves.toMatchObject({ users: [] });
  });
});

describe('IExpressionRest (against the fake server)', () => {
  it('does camera CRUD with a bearer token and maps HTTP errors', async () => {
    const server = await new FakeServer().start();
    cleanups.push(() => server.stop());
    const rest = new IExpressionRest({ baseUrl: server.url, token: 'secret' });
    const created = await rest.addCamera({ url: 'rtsp://user:pw@cam/1', name: 'Door', fps: 5 });
    expect(created).toMatchObject({ name: 'Door', fps: 5, url: 'rtsp://user:***@cam/1' });
    expect((await rest.listCameras()).map((c) => c.id)).toEqual([created.id]);
    await rest.removeCamera(created.id);
    await expect(rest.getCamera(created.id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(rest.addCamera({ url: 'gopher://x' })).rejects.toMatchObject({ code: 'invalid_url', status: 400 });
    const anonymous = new IExpressionRest({ baseUrl: server.url });
    await expect(anonymous.listCameras()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    expect(await anonymous.health()).toEqual({ status: 'ok' });
  });
});
