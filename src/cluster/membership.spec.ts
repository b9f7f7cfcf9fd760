import { afterEach, describe, expect, it } from 'vitest';
import { RxEventBus } from '../events/rx-event-bus';
import { ClusterMetrics } from './cluster.metrics';
import { MemoryNatsHub } from './memory/memory-nats.link';
import { KvMembership, NODES_BUCKET, SingleNodeMembership } from './membership';
import { NodeLoadMeter } from './node-load.meter';

describe('membership', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  function clock() {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  }

  async function member(hub: MemoryNatsHub, id: string, now: () => number) {
    const bus = new RxEventBus();
    let cpu = 0;
    const meter = new NodeLoadMeter(bus, { nodeId: id, now, cpuMicros: () => (cpu += 500_000), cores: 2 });
    const m = new KvMembership(hub.link(id), meter, { nodeId: id, heartbeatMs: 1000, metrics: new ClusterMetrics(), now });
    await m.start();
    stops.push(() => m.stop());
    return { m, bus };
  }

  it('a single node lists itself, with the cameras it runs and the frames/s it measured', () => {
    const c = clock();
    const bus = new RxEventBus();
    const meter = new NodeLoadMeter(bus, { nodeId: 'solo', now: c.now, cpuMicros: () => 0, cores: 2 });
    const single = new SingleNodeMembership('solo', meter, c.now);
    single.advertise('http://127.0.0.1:3000');
    bus.publish('camera.status', { type: 'camera.status', cameraId: 'b', state: 'streaming', ts: 1 });
    bus.publish('camera.status', { type: 'camera.status', cameraId: 'a', state: 'connecting', ts: 1 });
    bus.publish('camera.status', { type: 'camera.status', cameraId: 'x', state: 'failed', ts: 1 });
    bus.publish('camera.status', { type: 'camera.status', cameraId: 'z', state: 'streaming', ts: 1 }, { node: 'other' });
    for (let i = 0; i < 20; i++) bus.publish('expression', { cameraId: 'a' } as never);
    bus.publish('expression', { cameraId: 'z' } as never, { node: 'other' });
    c.advance(2000);
    const view = single.view();
    expect(view.nodes).toEqual([view.self]);
    expect(view.self).toMatchObject({ id: 'solo', url: 'http://127.0.0.1:3000', cameras: ['a', 'b'], load: { framesPerSecond: 10, cpu: 0, cores: 2 } });
    bus.publish('camera.removed', { type: 'camera.removed', cameraId: 'a' });
    expect(single.self().cameras).toEqual(['b']);
  });

  it('nodes heartbeat into iex-nodes: each sees both; a stopped node leaves at once, a dead one after 3 heartbeats', async () => {
    const c = clock();
    const hub = new MemoryNatsHub(c.now);
    const a = await member(hub, 'A', c.now);
    const b = await member(hub, 'B', c.now);
    await member(hub, 'D', c.now);
    await a.m.tick(); // A heard B and D join after its first heartbeat: a second one is not needed to see them
    expect(a.m.view().nodes.map((n) => n.id)).toEqual(['A', 'B', 'D']);
    expect(b.m.view().nodes.map((n) => n.id)).toEqual(['A', 'B', 'D']);
    expect(hub.buckets.get(NODES_BUCKET)!.ttlMs).toBe(3000);

    await b.m.stop(); // clean stop: deletes its key
    expect(a.m.view().nodes.map((n) => n.id)).toEqual(['A', 'D']);

    // D dies: no more heartbeats. A keeps beating; D stays listed for less than 3 heartbeats, then drops out.
    hub.links.forEach((l) => l.name === 'D' && void l.close());
    c.advance(2000);
    await a.m.tick();
    expect(a.m.view().nodes.map((n) => n.id)).toEqual(['A', 'D']);
    c.advance(1001);
    await a.m.tick();
    expect(a.m.view().nodes.map((n) => n.id)).toEqual(['A']);
    // and a node starting now does not see it either (the bucket's TTL removed it)
    const e = await member(hub, 'E', c.now);
    expect(e.m.view().nodes.map((n) => n.id)).toEqual(['A', 'E']);
  });

  it("a node that joins after another's cameras started learns their states from its heartbeat, not only from events", async () => {
    const c = clock();
    const hub = new MemoryNatsHub(c.now);
    const a = await member(hub, 'A', c.now);
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam1', state: 'connecting', ts: 10 });
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam1', state: 'streaming', fps: 5, ts: 20 });
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam2', state: 'failed', reason: 'unreachable', ts: 30 });
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam3', state: 'streaming', ts: 40 });
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam3', state: 'stopped', ts: 50 }); // released here
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam9', state: 'streaming', ts: 60 }, { node: 'X' }); // another node's
    await a.m.tick();
    // B starts now: those events were over before it listened
    const b = await member(hub, 'B', c.now);
    expect(b.m.reported('A')?.cameraStates).toEqual({
      cam1: { state: 'streaming', fps: 5, ts: 20 },
      cam2: { state: 'failed', reason: 'unreachable', ts: 30 },
    });
    expect(b.m.reported('A')?.cameras).toEqual(['cam1']);
    expect(b.m.reported('B')).toBeNull(); // itself: its own cameras are local
    expect(b.m.reported('nobody')).toBeNull();
    // a change reaches B with A's next heartbeat; a dead A's report goes with it
    a.bus.publish('camera.status', { type: 'camera.status', cameraId: 'cam1', state: 'reconnecting', reason: 'stalled', ts: 70 });
    await a.m.tick();
    expect(b.m.reported('A')?.cameraStates?.cam1).toEqual({ state: 'reconnecting', reason: 'stalled', ts: 70 });
    c.advance(3001);
    expect(b.m.reported('A')).toBeNull();
  });

  it("a node's own load in its view is the one its last heartbeat reported, as the others heard it: reading the view samples nothing", async () => {
    const c = clock();
    const hub = new MemoryNatsHub(c.now);
    const a = await member(hub, 'A', c.now);
    const b = await member(hub, 'B', c.now);
    c.advance(1000);
    await a.m.tick(); // 0.5 s of CPU over 1 s on 2 cores
    const heard = b.m.view().nodes.find((n) => n.id === 'A')!.load;
    expect(heard.cpu).toBe(0.25);
    // placement rounds and GET /api/cluster read the view between heartbeats: A ranks itself by what B heard
    c.advance(300);
    expect(a.m.view().self.load).toEqual(heard);
    expect(a.m.view().self.load).toEqual(heard);
    c.advance(700);
    await a.m.tick();
    expect(a.m.view().self.load).toEqual(b.m.view().nodes.find((n) => n.id === 'A')!.load);
  });

  it('heartbeats that fail while NATS is away are counted, and the node is back in the view when it returns', async () => {
    const c = clock();
    const hub = new MemoryNatsHub(c.now);
    const a = await member(hub, 'A', c.now);
    const metrics = new ClusterMetrics();
    const bus = new RxEventBus();
    hub.disconnect();
    const meter = new NodeLoadMeter(bus, { nodeId: 'B', now: c.now, cpuMicros: () => 0, cores: 1 });
    const b = new KvMembership(hub.link('B'), meter, { nodeId: 'B', heartbeatMs: 1000, metrics, now: c.now });
    await b.start(); // does not throw while NATS is away
    stops.push(() => b.stop());
    expect((await metrics.registry.getSingleMetric('iexpr_cluster_heartbeats_failed_total')!.get()).values[0].value).toBe(1);
    expect(b.view().nodes.map((n) => n.id)).toEqual(['B']);
    hub.reconnect();
    await b.tick();
    expect(b.view().nodes.map((n) => n.id)).toEqual(['A', 'B']);
    expect(a.m.view().nodes.map((n) => n.id)).toEqual(['A', 'B']);
  });
});
