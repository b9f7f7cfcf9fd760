/**
 * SDK client mechanics that need a scripted server (test/support/fake-ws-server.ts): silence, drops and restarts on
 * cue, a steady event stream. Connecting, auth, commands, typed errors and REST run against the real server in
 * test/e2e/sdk-real-server.spec.ts.
 */
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { IExpressionClient, IExpressionError, type ServerEvent, type WebSocketCtor } from '../../clients/sdk/src';
import { FakeWsServer } from '../support/fake-ws-server';

const Ws = WebSocket as unknown as WebSocketCtor;
const fakeJpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup() {
  const server = await new FakeWsServer({ previewJpeg: fakeJpeg, eventFps: 20 }).start();
  cleanups.push(() => server.stop());
  const client = new IExpressionClient({ url: server.url, WebSocket: Ws, reconnect: { initialMs: 50, maxMs: 200 }, commandTimeoutMs: 2000 });
  cleanups.push(() => client.close());
  return { server, client };
}

describe('IExpressionClient (against a scripted server)', () => {
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
    const camera = server.addCamera();
    server.addCamera();
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
    const camera = server.addCamera();
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
    const camera = server.addCamera();
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
    const { server, client } = await setup();
    await client.connect();
    server.dropConnections();
    const err = await client.command('user.list', {}).catch((e: unknown) => e);
    // sent before the drop was noticed → disconnected; or queued → answered after reconnect
    if (err instanceof IExpressionError) expect(err.code).toBe('disconnected');
    else expect(err).toMatchObject({ type: 'ack' });
    const before = server.received.filter((m) => m.type === 'user.list').length;
    await expect(client.command('user.list', {})).resolves.toMatchObject({ type: 'ack' });
    expect(server.received.filter((m) => m.type === 'user.list')).toHaveLength(before + 1);
  });
});
