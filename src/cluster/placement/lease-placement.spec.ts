import { afterEach, describe, expect, it } from 'vitest';
import type { PlacementHost } from '../../contracts/ports/camera-placement';
import { ClusterMetrics } from '../cluster.metrics';
import { MemoryNatsHub } from '../memory/memory-nats.link';
import { LeasePlacement, LEASES_BUCKET } from './lease-placement';
import type { PlacementNode } from './reconciler';

/** A node's cameras as a fake host: what runs, and every start/stop with the (virtual) time. */
class FakeHost implements PlacementHost {
  readonly running = new Set<string>();
  readonly log: { camera: string; start: number; stop?: number }[] = [];
  constructor(
    private readonly stored: () => string[],
    private readonly now: () => number,
  ) {}
  storedCameraIds(): string[] {
    return this.stored();
  }
  start(id: string): void {
    if (this.running.has(id)) throw new Error(`${id} started twice`);
    this.running.add(id);
    this.log.push({ camera: id, start: this.now() });
  }
  async stop(id: string): Promise<void> {
    if (!this.running.delete(id)) return;
    const open = this.log.find((e) => e.camera === id && e.stop === undefined)!;
    open.stop = this.now();
  }
}

const TTL = 10_000;
let clock = 1_000_000;
const now = () => clock;
const placements: LeasePlacement[] = [];

function node(hub: MemoryNatsHub, id: string, cameras: () => string[], alive: () => PlacementNode[]) {
  const host = new FakeHost(cameras, now);
  const link = hub.link(id);
  const metrics = new ClusterMetrics();
  const p = new LeasePlacement(link, { nodeId: id, leaseTtlMs: TTL, reconcileMs: 2000, claimGraceMs: 4000, rebalanceMs: 30_000, nodes: alive, now, metrics });
  placements.push(p);
  return { id, host, link, p, metrics };
}

async function metric(m: ClusterMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const got = (await m.registry.getSingleMetric(name)!.get()).values;
  return got.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

const load = (id: string): PlacementNode => ({ id, load: { framesPerSecond: 0, cpu: 0, cores: 2 } });

/** Advances virtual time in steps, ticking every placement (as their timers would). */
async function advance(ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock += step;
    for (const p of placements) await p.tick();
  }
}

afterEach(async () => {
  for (const p of placements.splice(0)) await p.detach();
});

describe('LeasePlacement (in-memory NATS, virtual time)', () => {
  it("reportedStatus: a camera another node holds, as that node's heartbeat reported it; none for its own or an unowned one", async () => {
    const hub = new MemoryNatsHub(now);
    const cameras = ['c1', 'c2'];
    const alive = () => ['a', 'b'].map(load);
    const a = node(hub, 'a', () => cameras, () => [load('a')]); // a places both cameras on itself
    const reports: Record<string, Record<string, { state: 'streaming' | 'failed'; ts: number }>> = {
      a: { c1: { state: 'streaming', ts: 5 }, c2: { state: 'streaming', ts: 6 } },
      b: { c1: { state: 'failed', ts: 7 } }, // b's stale word on a camera a holds: not a's report
    };
    const b = new LeasePlacement(hub.link('b'), {
      nodeId: 'b', leaseTtlMs: TTL, reconcileMs: 2000, claimGraceMs: 4000, rebalanceMs: 30_000, nodes: alive, now,
      reportedState: (nodeId, cameraId) => reports[nodeId]?.[cameraId],
    });
    placements.push(b);
    expect(b.reportedStatus('c1')).toBeNull(); // nobody holds it yet
    await a.p.attach(a.host);
    await b.attach(new FakeHost(() => [], now));
    await advance(3000);
    expect(a.host.running.size).toBe(2);
    expect(b.reportedStatus('c1')).toEqual({ cameraId: 'c1', state: 'streaming', ts: 5 });
    expect(a.p.reportedStatus('c1')).toBeNull(); // its own camera: the host knows its state
    delete reports.a.c2;
    expect(b.reportedStatus('c2')).toBeNull();
  });

  it('spreads cameras, moves a cut-off node’s cameras after the TTL, never runs one twice, and the returning node steals nothing', async () => {
    const hub = new MemoryNatsHub(now);
    const cameras = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    let live = ['a', 'b', 'c'];
    const alive = () => live.map(load);
    const a = node(hub, 'a', () => cameras, alive);
    const b = node(hub, 'b', () => cameras, alive);
    const c = node(hub, 'c', () => cameras, alive);
    await Promise.all([a, b, c].map((n) => n.p.attach(n.host)));
    await advance(3000);
    expect([a, b, c].map((n) => n.host.running.size)).toEqual([2, 2, 2]);
    expect(new Set([a, b, c].flatMap((n) => [...n.host.running])).size).toBe(6);
    expect(b.p.ownerOf([...a.host.running][0])).toBe('a');

    // c loses NATS (its link closes): it cannot renew, so it stops its cameras before its leases expire …
    const cutAt = clock;
    const cs = [...c.host.running];
    await c.link.close();
    live = ['a', 'b'];
    await advance(TTL - 2500);
    expect(c.host.running.size).toBe(0);
    // … and a and b have not taken them yet (the leases are still live in the bucket)
    expect(a.host.running.size + b.host.running.size).toBe(4);
    // after the TTL (+ a reconcile round) they have, one each
    await advance(5000);
    expect(a.host.running.size).toBe(3);
    expect(b.host.running.size).toBe(3);
    for (const id of cs) {
      const stoppedOnC = c.host.log.find((e) => e.camera === id)!.stop!;
      const startedElsewhere = [...a.host.log, ...b.host.log].find((e) => e.camera === id && e.start > cutAt)!.start;
      expect(stoppedOnC).toBeLessThan(startedElsewhere);
      expect(startedElsewhere - cutAt).toBeLessThanOrEqual(TTL + 2000 + 500);
    }

    // c comes back (new process, same id): it claims nothing while the others hold every camera
    const c2 = node(hub, 'c', () => cameras, alive);
    live = ['a', 'b', 'c'];
    await c2.p.attach(c2.host);
    await advance(20_000);
    expect(c2.host.running.size).toBe(0);
    // gradual rebalance: after CAMERA_REBALANCE_MS a and b (3 each vs 0) hand over one camera each, not more
    await advance(12_000);
    expect(c2.host.running.size).toBe(2);
    expect(a.host.running.size + b.host.running.size).toBe(4);

    // no camera ever ran on two nodes at once
    const all = [a, b, c, c2].flatMap((n) => n.host.log.map((e) => ({ ...e, node: n })));
    for (const x of all) {
      for (const y of all) {
        if (x === y || x.camera !== y.camera || x.node === y.node) continue;
        const overlap = Math.min(x.stop ?? Infinity, y.stop ?? Infinity) - Math.max(x.start, y.start);
        expect(overlap, `${x.camera} on ${x.node.id} and ${y.node.id}`).toBeLessThanOrEqual(0);
      }
    }
  });

  it('six cameras added in quick succession through one node, seen late by the others, end 2 (±1) per node', async () => {
    // The 3-node e2e in virtual time: a camera every 300 ms through a's REST (a places at once), the replicated table
    // reaching b and c 700 ms later, and heartbeats reporting loads that differ by far more than a camera costs.
    const hub = new MemoryNatsHub(now);
    const added: { id: string; at: number }[] = [];
    const storedOn = (lag: number) => () => added.filter((c) => clock - c.at >= lag).map((c) => c.id);
    const alive = () => [
      { id: 'a', load: { framesPerSecond: 0, cpu: 0.3, cores: 2 } },
      { id: 'b', load: { framesPerSecond: 0, cpu: 0.02, cores: 2 } },
      { id: 'c', load: { framesPerSecond: 0, cpu: 0.12, cores: 2 } },
    ];
    const a = node(hub, 'a', storedOn(0), alive);
    const b = node(hub, 'b', storedOn(700), alive);
    const c = node(hub, 'c', storedOn(700), alive);
    await Promise.all([a, b, c].map((n) => n.p.attach(n.host)));
    await advance(2000);
    // ids in another order than they arrive (a node may see a later camera sort before an earlier one)
    for (const id of ['q4', 'q1', 'q6', 'q2', 'q5', 'q3']) {
      added.push({ id, at: clock });
      a.p.changed();
      await advance(300, 100);
    }
    await advance(10_000);
    const per = [a, b, c].map((n) => n.host.running.size);
    expect(per.reduce((x, y) => x + y)).toBe(6);
    for (const n of per) expect(n, `cameras per node: ${per.join('/')}`).toBeGreaterThanOrEqual(1);
    for (const n of per) expect(n, `cameras per node: ${per.join('/')}`).toBeLessThanOrEqual(3);
    expect(new Set([a, b, c].flatMap((n) => [...n.host.running])).size).toBe(6);
  });

  it('stops a camera at once when its renewal is refused (someone else holds the lease now)', async () => {
    const hub = new MemoryNatsHub(now);
    const a = node(hub, 'a', () => ['k'], () => [load('a')]);
    await a.p.attach(a.host);
    await advance(2500);
    expect([...a.host.running]).toEqual(['k']);
    // an operator (or a split brain) rewrites the lease: a's next compare-and-set fails
    const kv = await hub.link('x').kv(LEASES_BUCKET, { ttlMs: TTL });
    await kv.put('k', new TextEncoder().encode(JSON.stringify({ node: 'intruder' })));
    await advance(TTL / 3 + 500);
    expect(a.host.running.size).toBe(0);
    expect(a.p.ownerOf('k')).toBe('intruder');
    expect(await metric(a.metrics, 'iexpr_cluster_camera_claims_total')).toBe(1);
    expect(await metric(a.metrics, 'iexpr_cluster_camera_stops_total', { reason: 'lost' })).toBe(1);
    expect(await metric(a.metrics, 'iexpr_cluster_camera_leases')).toBe(0);
  });

  it('releases a removed camera and a shutting-down node hands its cameras over at once', async () => {
    const hub = new MemoryNatsHub(now);
    let cameras = ['m1', 'm2'];
    const a = node(hub, 'a', () => cameras, () => [load('a'), load('b')]);
    const b = node(hub, 'b', () => cameras, () => [load('a'), load('b')]);
    await a.p.attach(a.host);
    await b.p.attach(b.host);
    await advance(2500);
    expect(a.host.running.size + b.host.running.size).toBe(2);
    cameras = ['m2'];
    await advance(2500);
    expect([...a.host.running, ...b.host.running]).toEqual(['m2']);
    const holder = a.host.running.has('m2') ? a : b;
    const other = holder === a ? b : a;
    await holder.p.detach();
    placements.splice(placements.indexOf(holder.p), 1);
    expect(holder.host.running.size).toBe(0);
    // the other takes it at its next round (after the grace period, since the membership still lists the leaver)
    await advance(6500);
    expect([...other.host.running]).toEqual(['m2']);
  });
});
