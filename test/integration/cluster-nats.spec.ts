/**
 * The cluster foundation against a real nats-server (JetStream on): two "nodes" (NatsEventBus + membership on their
 * own connections) on one server; the server killed and restarted; a node that dies drops out of the membership.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMetrics } from '../../src/cluster/cluster.metrics';
import { ClusterUnavailableError } from '../../src/cluster/cluster.errors';
import { KvMembership } from '../../src/cluster/membership';
import { NatsEventBus } from '../../src/cluster/nats-event-bus';
import { connectNats, NatsJsLink } from '../../src/cluster/nats-js.link';
import { NodeLoadMeter } from '../../src/cluster/node-load.meter';
import type { ExpressionEvent } from '../../src/contracts/events';
import type { Envelope } from '../../src/events/event-bus';
import { RxEventBus } from '../../src/events/rx-event-bus';
import { NodeIdFileError, readOrCreateNodeId } from '../../src/storage/node-id';
import { freePort, NatsServer, requireNatsServer, startNatsServer } from '../support/nats';

const hasNats = requireNatsServer();

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const expression = (frameId: number): ExpressionEvent => ({
  type: 'expression',
  cameraId: 'cam.1',
  frameId,
  ts: Date.now() - 40,
  latencyMs: 40,
  width: 320,
  height: 240,
  faces: [],
});

describe('node id file', () => {
  it('is generated once, atomically, and read back unchanged; a corrupt one is refused', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'iexpr-nodeid-')), 'data');
    const id = readOrCreateNodeId(dir);
    expect(id).toMatch(/^n-[0-9a-f]{10}$/);
    expect(readOrCreateNodeId(dir)).toBe(id);
    writeFileSync(join(dir, 'node-id'), 'bad id\n');
    expect(() => readOrCreateNodeId(dir)).toThrow(NodeIdFileError);
  });
});

describe.skipIf(!hasNats)('cluster on a real nats-server', () => {
  let nats: NatsServer;
  const links: NatsJsLink[] = [];
  let subs = new Subscription();

  beforeAll(async () => {
    nats = await startNatsServer();
  }, 30_000);
  afterAll(async () => {
    subs.unsubscribe();
    subs = new Subscription();
    for (const l of links) await l.close().catch(() => undefined);
    await nats?.stop();
  });

  async function link(name: string): Promise<NatsJsLink> {
    const l = await connectNats({ servers: nats.url, name, replicas: 1 });
    links.push(l);
    return l;
  }

  async function node(id: string, bufferMax = 1000) {
    const metrics = new ClusterMetrics();
    const l = await link(id);
    const bus = new NatsEventBus(l, { nodeId: id, bufferMax, metrics });
    const got: Envelope[] = [];
    subs.add(bus.on('expression', 'model.updated').subscribe((e) => got.push(e)));
    // core NATS is at-most-once: a PING/PONG round trip makes sure the server has this node's subscription before a
    // test publishes (on a loaded machine another node's publish could otherwise arrive first and be lost)
    await l.connection.flush();
    return { bus, got, metrics };
  }

  it('unreachable NATS at start: a ClusterUnavailableError naming the URL, without its credentials', async () => {
    const port = await freePort();
    const err = await connectNats({ servers: `nats://ops:s3cret@127.0.0.1:${port}`, name: 't', replicas: 1, connectTimeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(ClusterUnavailableError);
    expect(err.message).toContain(`nats://***@127.0.0.1:${port}`);
    expect(err.message).not.toContain('s3cret');
  });

  it("an event published on A reaches B's subscriber once, and A's own subscriber once (no echo)", async () => {
    const a = await node('A');
    const b = await node('B');
    const sent = expression(1);
    a.bus.publish('expression', sent);
    expect(a.got.map((e) => e.meta.node)).toEqual(['A']); // synchronous, local
    await until('B gets it', () => b.got.length === 1);
    expect(b.got[0]).toEqual({ name: 'expression', payload: sent, meta: { ts: a.got[0].meta.ts, node: 'A' } });
    // A round trip B -> A: an echo of A's event, sent by the server before B's reply existed, would have come first.
    b.bus.publish('model.updated', { type: 'model.updated', userId: 'u', version: 1, active: true, metrics: {} as never });
    await until('A gets B event', () => a.got.some((e) => e.name === 'model.updated'));
    expect(a.got.map((e) => `${e.name}@${e.meta.node}`)).toEqual(['expression@A', 'model.updated@B']);
    expect(b.got.map((e) => `${e.name}@${e.meta.node}`)).toEqual(['expression@A', 'model.updated@B']);
    a.bus.stop();
    b.bus.stop();
  });

  it('NATS killed and restarted: A keeps delivering locally, buffers for B, and B gets the buffered events after', async () => {
    const a = await node('A2');
    const b = await node('B2');
    a.bus.publish('expression', expression(1));
    await until('B2 gets the first', () => b.got.length === 1);

    await nats.kill();
    await until('A2 sees NATS gone', () => a.metrics.connected.get().then((m) => m.values[0].value === 0));
    for (let i = 2; i <= 4; i++) a.bus.publish('expression', expression(i));
    expect(a.got.map((e) => (e.payload as ExpressionEvent).frameId)).toEqual([1, 2, 3, 4]);
    expect((await a.metrics.eventsBuffered.get()).values[0].value).toBe(3);

    await nats.restart();
    // B2 must have re-subscribed before A2 flushes for the test to see them: publish until B2 has a fresh one.
    await until('both reconnected', async () => a.bus['link'].status() === 'connected' && b.bus['link'].status() === 'connected', 30_000);
    let n = 100;
    await until('B2 receives again', () => {
      a.bus.publish('expression', expression(++n));
      return b.got.some((e) => (e.payload as ExpressionEvent).frameId > 100);
    }, 30_000);
    const frames = b.got.map((e) => (e.payload as ExpressionEvent).frameId);
    expect(frames[0]).toBe(1);
    // what was buffered went out first, in order, before anything published after the reconnect
    const after = frames.filter((f) => f < 100);
    expect(after.every((f, i) => i === 0 || f > after[i - 1])).toBe(true);
    expect(new Set(frames).size).toBe(frames.length); // once each
    // the held events left A once NATS was back (whether B had re-subscribed by then is NATS's at-most-once)
    expect((await a.metrics.eventsBuffered.get()).values[0].value).toBe(0);
    expect((await a.metrics.eventsSent.get()).values[0].value).toBeGreaterThanOrEqual(5);
    a.bus.stop();
    b.bus.stop();
  }, 90_000);

  it('membership lists both nodes, and drops one that stopped heartbeating after the TTL', async () => {
    const make = async (id: string) => {
      const meter = new NodeLoadMeter(new RxEventBus(), { nodeId: id });
      const l = await link(id);
      const m = new KvMembership(l, meter, { nodeId: id, heartbeatMs: 300, metrics: new ClusterMetrics() });
      await m.start();
      return { m, l };
    };
    const a = await make('mA');
    const b = await make('mB');
    a.m.advertise('http://127.0.0.1:1111');
    const ids = (m: KvMembership) => m.view().nodes.map((n) => n.id).filter((id) => id.startsWith('m'));
    await until('both see both', () => ids(a.m).join() === 'mA,mB' && ids(b.m).join() === 'mA,mB');
    await until('B sees A url', () => b.m.view().nodes.find((n) => n.id === 'mA')?.url === 'http://127.0.0.1:1111');

    // mB dies: its connection goes without a clean leave (no delete), so only the TTL removes it
    await b.l.connection.close();
    await until('A drops B', () => ids(a.m).join() === 'mA', 10_000);
    await b.m.stop();
    await a.m.stop();
  }, 30_000);
});
