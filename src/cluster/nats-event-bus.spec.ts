import { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExpressionEvent } from '../contracts/events';
import type { Envelope } from '../events/event-bus';
import { ClusterMetrics } from './cluster.metrics';
import { MemoryNatsHub } from './memory/memory-nats.link';
import { NatsEventBus } from './nats-event-bus';

const expression = (frameId: number, cameraId = 'cam1'): ExpressionEvent => ({
  type: 'expression',
  cameraId,
  frameId,
  ts: 1_700_000_000_000 + frameId,
  latencyMs: 3,
  width: 640,
  height: 480,
  faces: [],
});

const value = async (m: ClusterMetrics, name: string, labels: Record<string, string> = {}) => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name)!;
  const v = (metric.values as { value: number; labels: Record<string, string> }[]).find((x) =>
    Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? 0;
};

describe('NatsEventBus (on an in-memory NATS)', () => {
  let subs = new Subscription();
  const buses: NatsEventBus[] = [];
  afterEach(() => {
    subs.unsubscribe();
    subs = new Subscription(); // a closed Subscription would end every later add() at once
    for (const b of buses.splice(0)) b.stop();
  });

  function node(hub: MemoryNatsHub, id: string, bufferMax = 100) {
    const metrics = new ClusterMetrics();
    const bus = new NatsEventBus(hub.link(id), { nodeId: id, bufferMax, metrics });
    buses.push(bus);
    const got: Envelope[] = [];
    subs.add(bus.on('expression', 'camera.status', 'face.observed', 'model.updated').subscribe((e) => got.push(e)));
    return { bus, metrics, got };
  }

  it("delivers a node's event to its own subscribers synchronously and to the other node's once, never back", () => {
    const hub = new MemoryNatsHub();
    const a = node(hub, 'A');
    const b = node(hub, 'B');
    a.bus.publish('expression', expression(1), { ts: 5 });
    // local: inside publish(), stamped with this node
    expect(a.got).toEqual([{ name: 'expression', payload: expression(1), meta: { ts: 5, node: 'A' } }]);
    // remote: once, payload and meta as sent (capture time kept: latency stays capture -> delivery)
    expect(b.got).toEqual([{ name: 'expression', payload: expression(1), meta: { ts: 5, node: 'A' } }]);
    expect(hub.published.map((p) => p.subject)).toEqual(['iex.v1.cam.cam1.expression']);
    // B's delivery of A's event is not sent on again
    b.bus.publish('model.updated', { type: 'model.updated', userId: 'u1', version: 1, active: true, metrics: {} as never }, { originId: 'c1' });
    expect(hub.published.map((p) => `${p.from}:${p.subject}`)).toEqual(['A:iex.v1.cam.cam1.expression', 'B:iex.v1.model.updated']);
    expect(a.got.map((e) => `${e.name}@${e.meta.node}`)).toEqual(['expression@A', 'model.updated@B']);
    expect(a.got[1].meta.originId).toBe('c1');
  });

  it('keeps face.observed on its node, and wants() it only while a local subscriber listens', () => {
    const hub = new MemoryNatsHub();
    const metrics = new ClusterMetrics();
    const a = new NatsEventBus(hub.link('A'), { nodeId: 'A', bufferMax: 10, metrics });
    buses.push(a);
    const b = node(hub, 'B');
    expect(a.wants('face.observed')).toBe(false);
    expect(a.wants('expression')).toBe(true); // another node may listen
    const local: string[] = [];
    subs.add(a.on('face.observed').subscribe((e) => local.push(e.payload.cameraId)));
    expect(a.wants('face.observed')).toBe(true);
    a.publish('face.observed', { cameraId: 'cam1', crop48: new Uint8Array(4) } as never);
    expect(local).toEqual(['cam1']);
    expect(hub.published).toEqual([]);
    expect(b.got).toEqual([]);
  });

  it('while NATS is away: local delivery goes on, the newest NATS_BUFFER_MAX wait, older ones are dropped and counted', async () => {
    const hub = new MemoryNatsHub();
    const a = node(hub, 'A', 3);
    const b = node(hub, 'B');
    hub.disconnect();
    for (let i = 1; i <= 5; i++) a.bus.publish('expression', expression(i));
    expect(a.got.map((e) => (e.payload as ExpressionEvent).frameId)).toEqual([1, 2, 3, 4, 5]);
    expect(b.got).toEqual([]);
    expect(await value(a.metrics, 'iexpr_cluster_events_dropped_total', { reason: 'buffer_full' })).toBe(2);
    expect(await value(a.metrics, 'iexpr_cluster_events_buffered')).toBe(3);
    expect(await value(a.metrics, 'iexpr_cluster_nats_connected')).toBe(0);
    hub.reconnect();
    expect(b.got.map((e) => (e.payload as ExpressionEvent).frameId)).toEqual([3, 4, 5]);
    a.bus.publish('expression', expression(6));
    expect(b.got.map((e) => (e.payload as ExpressionEvent).frameId)).toEqual([3, 4, 5, 6]);
    expect(await value(a.metrics, 'iexpr_cluster_events_buffered')).toBe(0);
    expect(await value(a.metrics, 'iexpr_cluster_events_sent_total')).toBe(4);
    expect(await value(a.metrics, 'iexpr_cluster_nats_connected')).toBe(1);
  });

  it('ignores (and counts) messages that are no event, node-scoped names, and its own echo', async () => {
    const hub = new MemoryNatsHub();
    const a = node(hub, 'A');
    const raw = hub.link('raw');
    const send = (o: unknown) => raw.publish('iex.v1.x', new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o)));
    send('not json');
    send({ name: 'no.such.event', payload: {}, meta: { ts: 1, node: 'B' } });
    send({ name: 'face.observed', payload: { cameraId: 'c' }, meta: { ts: 1, node: 'B' } });
    send({ name: 'expression', payload: null, meta: { ts: 1, node: 'B' } });
    send({ name: 'expression', payload: expression(1), meta: { ts: 1 } });
    send({ name: 'expression', payload: expression(2), meta: { ts: 1, node: 'A' } }); // names us: an echo
    expect(a.got).toEqual([]);
    expect(await value(a.metrics, 'iexpr_cluster_events_dropped_total', { reason: 'invalid' })).toBe(5);
    send({ name: 'expression', payload: expression(3), meta: { ts: 1, node: 'B' } });
    expect(a.got.map((e) => e.meta.node)).toEqual(['B']);
    expect(await value(a.metrics, 'iexpr_cluster_events_received_total')).toBe(1);
  });

  it('stop() ends receiving; publish never throws, even on a closed link', async () => {
    const hub = new MemoryNatsHub();
    const a = node(hub, 'A');
    const b = node(hub, 'B');
    b.bus.stop();
    a.bus.publish('expression', expression(1));
    expect(b.got).toEqual([]);
    const link = hub.link('C');
    const metrics = new ClusterMetrics();
    const c = new NatsEventBus(link, { nodeId: 'C', bufferMax: 10, metrics });
    buses.push(c);
    await link.close();
    expect(() => c.publish('expression', expression(2))).not.toThrow();
  });
});
