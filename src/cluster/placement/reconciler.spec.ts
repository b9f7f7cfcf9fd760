import { describe, expect, it } from 'vitest';
import { LeaseInfo, PlacementNode, rank, reconcile, ReconcileInput } from './reconciler';

const settings = { leaseTtlMs: 10_000, claimGraceMs: 4_000, rebalanceMs: 30_000 };
const T = 1_000_000;

function node(id: string, cpu = 0, cores = 2): PlacementNode {
  return { id, load: { framesPerSecond: 0, cpu, cores } };
}

function input(over: Partial<ReconcileInput> & { self: string }): ReconcileInput {
  return {
    now: T,
    cameras: [],
    leases: new Map(),
    held: new Map(),
    nodes: [node('a'), node('b'), node('c')],
    unownedSince: new Map(),
    lastRebalanceAt: T - 60_000,
    settings,
    ...over,
  };
}

function leases(entries: Record<string, string>, heardAt = T - 1000): Map<string, LeaseInfo> {
  return new Map(Object.entries(entries).map(([camera, n]) => [camera, { node: n, heardAt }]));
}

/** What every node would claim from the same view. */
function claimsOfAll(base: Omit<ReconcileInput, 'self' | 'held'>, held: Record<string, string[]> = {}): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of base.nodes) {
    const mine = new Map((held[n.id] ?? []).map((c) => [c, T - 60_000] as const));
    out.set(n.id, reconcile({ ...base, self: n.id, held: mine }).claim);
  }
  return out;
}

describe('reconcile', () => {
  it('between nodes holding as many cameras, puts a new camera on the one with the lower measured load', () => {
    // a and b run one camera each, a's machine is busy and b's nearly idle; c runs two and is idle.
    const nodes = [node('a', 0.6), node('b', 0.05), node('c', 0.05)];
    const base = { ...input({ self: 'a' }), nodes, cameras: ['c1', 'c2', 'c3', 'c4', 'new'], leases: leases({ c1: 'a', c2: 'b', c3: 'c', c4: 'c' }) };
    const all = claimsOfAll(base, { a: ['c1'], b: ['c2'], c: ['c3', 'c4'] });
    expect(all.get('b')).toEqual(['new']);
    expect(all.get('a')).toEqual([]);
    expect(all.get('c')).toEqual([]);
  });

  it("an idle node's CPU noise does not outweigh cameras: six added one by one go 2/2/2", () => {
    // The 3-node e2e: a 5-fps file camera costs ~0.025 of a 2-core machine, and the heartbeats still report the load
    // from before the burst — A busy with the REST requests, C with a GC. Placed by measured load, B (the quietest)
    // took camera after camera and A none (4/1/1, 3/3/0 seen).
    const nodes = [node('a', 0.3), node('b', 0.02), node('c', 0.12)];
    const lease = new Map<string, LeaseInfo>();
    const cameras: string[] = [];
    for (const camera of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) {
      cameras.push(camera);
      const held: Record<string, string[]> = {};
      for (const [c, l] of lease) (held[l.node] ??= []).push(c);
      const all = claimsOfAll({ ...input({ self: 'a' }), nodes, cameras: [...cameras], leases: new Map(lease) }, held);
      // the claimer's create succeeds: its lease is heard by all before the next camera arrives
      for (const [n, claims] of all) for (const c of claims) lease.set(c, { node: n, heardAt: T });
      expect([...all.values()].flat()).toEqual([camera]);
    }
    const per = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (const l of lease.values()) per[l.node]++;
    expect(per).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('CPU differences within one step are noise: the node with fewer cameras wins, then the id', () => {
    // b holds one camera and reports 0.02; a holds none and reports 0.08 (the same CPU step): a gets it.
    const base = { ...input({ self: 'a' }), nodes: [node('a', 0.08), node('b', 0.02)], cameras: ['x', 'new'], leases: leases({ x: 'b' }) };
    expect(reconcile({ ...base, held: new Map() }).claim).toEqual(['new']);
    // no cameras at all, 0.01 vs 0.09: the same step, so the id decides on every node alike
    const empty = { ...input({ self: 'a' }), nodes: [node('a', 0.09), node('b', 0.01)], cameras: ['new'] };
    expect(reconcile(empty).assigned.get('new')).toBe('a');
    expect(reconcile({ ...empty, self: 'b' }).assigned.get('new')).toBe('a');
  });

  it('a saturated node gets a new camera only when every node is', () => {
    // a reports 95 % of its machine with one camera (something else runs there): b gets it, though it holds three.
    const held = { b: ['h1', 'h2', 'h3'], a: ['h4'] };
    const base = { ...input({ self: 'b' }), nodes: [node('a', 0.95), node('b', 0.3)], cameras: ['h1', 'h2', 'h3', 'h4', 'new'], leases: leases({ h1: 'b', h2: 'b', h3: 'b', h4: 'a' }) };
    expect(claimsOfAll(base, held).get('b')).toEqual(['new']);
    // both saturated: the count decides again
    const both = { ...base, nodes: [node('a', 0.95), node('b', 0.92)] };
    expect(claimsOfAll(both, held).get('a')).toEqual(['new']);
    expect(rank([node('a', 0.95), node('b', 0.92)], new Map([['a', 1], ['b', 3]])).map((n) => n.id)).toEqual(['a', 'b']);
  });

  it('spreads a burst of new cameras instead of piling them on the emptiest node', () => {
    const base = { ...input({ self: 'a' }), cameras: ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'] };
    const all = claimsOfAll(base);
    expect([...all.values()].map((c) => c.length)).toEqual([2, 2, 2]);
    expect(new Set([...all.values()].flat()).size).toBe(6);
  });

  it('never assigns one camera to two nodes in one round, whatever the view', () => {
    // Random views: each camera is claimed by at most one node, and never when it has a live lease.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round++) {
      const ids = ['a', 'b', 'c', 'd'].slice(0, 1 + Math.floor(rnd() * 4));
      const nodes = ids.map((id) => node(id, rnd(), 1 + Math.floor(rnd() * 8)));
      const cameras = Array.from({ length: Math.floor(rnd() * 12) }, (_, i) => `cam${i}`);
      // One consistent view: a live node holds what its live leases say; a dead node's leases may be live or expired.
      const held: Record<string, string[]> = {};
      const lease = new Map<string, LeaseInfo>();
      for (const c of cameras) {
        if (rnd() < 0.5) continue;
        const owner = rnd() < 0.2 ? 'gone' : ids[Math.floor(rnd() * ids.length)];
        const heardAt = owner === 'gone' ? T - Math.floor(rnd() * 20_000) : T - Math.floor(rnd() * 3_000);
        lease.set(c, { node: owner, heardAt });
        if (owner !== 'gone') (held[owner] ??= []).push(c);
      }
      const unownedSince = new Map(cameras.map((c) => [c, T - Math.floor(rnd() * 20_000)] as const));
      const base = { ...input({ self: ids[0] }), nodes, cameras, leases: lease, unownedSince };
      const all = claimsOfAll(base, held);
      const claimed = [...all.values()].flat();
      expect(new Set(claimed).size).toBe(claimed.length);
      for (const [n, claims] of all) {
        for (const c of claims) {
          expect(held[n] ?? []).not.toContain(c);
          const l = base.leases.get(c);
          if (l && T - l.heardAt < settings.leaseTtlMs) throw new Error(`${n} claims ${c}, leased live to ${l.node}`);
        }
        const d = reconcile({ ...base, self: n, held: new Map((held[n] ?? []).map((c) => [c, T] as const)) });
        for (const c of d.release) expect(d.claim).not.toContain(c);
      }
    }
  });

  it("takes a dead node's cameras only once its leases are a TTL old", () => {
    // c died: it left the membership; its leases were last renewed 6 s ago, then 11 s ago.
    const nodes = [node('a'), node('b')];
    const fresh = { ...input({ self: 'a' }), nodes, cameras: ['x1', 'x2'], leases: leases({ x1: 'c', x2: 'c' }, T - 6_000) };
    expect([...claimsOfAll(fresh).values()].flat()).toEqual([]);
    const old = { ...fresh, leases: leases({ x1: 'c', x2: 'c' }, T - 11_000) };
    const all = claimsOfAll(old);
    expect(all.get('a')).toEqual(['x1']);
    expect(all.get('b')).toEqual(['x2']);
  });

  it('lets the next node claim when the preferred one has not within the grace period', () => {
    const nodes = [node('a'), node('b')];
    const base = { ...input({ self: 'b' }), nodes, cameras: ['z'] };
    expect(reconcile({ ...base, unownedSince: new Map([['z', T - 1000]]) }).claim).toEqual([]);
    expect(reconcile({ ...base, self: 'a', unownedSince: new Map([['z', T - 1000]]) }).claim).toEqual(['z']);
    // a has not claimed for 4 s (grace): b's turn, and a's turn is over.
    expect(reconcile({ ...base, unownedSince: new Map([['z', T - 4500]]) }).claim).toEqual(['z']);
    expect(reconcile({ ...base, self: 'a', unownedSince: new Map([['z', T - 4500]]) }).claim).toEqual([]);
    // the decision remembers when it first saw the camera unowned, and forgets it once leased
    expect(reconcile({ ...base }).unownedSince.get('z')).toBe(T);
    expect(reconcile({ ...base, leases: leases({ z: 'a' }) }).unownedSince.has('z')).toBe(false);
  });

  it('a returning node takes nothing held by others, even when it is empty', () => {
    const base = {
      ...input({ self: 'c' }),
      cameras: ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'],
      leases: leases({ p1: 'a', p2: 'a', p3: 'a', p4: 'b', p5: 'b', p6: 'b' }),
      lastRebalanceAt: T, // c has just started
    };
    const d = reconcile({ ...base, held: new Map() });
    expect(d.claim).toEqual([]);
    expect(d.release).toEqual([]);
    // and the holders do not release at once either: 3 vs 0 is an imbalance, but a and b hand over gradually
    const a = reconcile({ ...base, self: 'a', held: new Map(['p1', 'p2', 'p3'].map((c, i) => [c, T - 60_000 + i] as const)), lastRebalanceAt: T - 10_000 });
    expect(a.release).toEqual([]);
  });

  it('rebalances one camera per interval, only when the imbalance is more than one camera', () => {
    const held = new Map([['r1', T - 50_000], ['r2', T - 40_000], ['r3', T - 30_000]] as const);
    const cameras = ['r1', 'r2', 'r3', 'r4'];
    // a holds 3, b holds 1: imbalance 2 > 1 → a releases its newest claim (r3), one camera only
    const base = { ...input({ self: 'a' }), nodes: [node('a'), node('b')], cameras, leases: leases({ r1: 'a', r2: 'a', r3: 'a', r4: 'b' }), held };
    const d = reconcile(base);
    expect(d.release).toEqual(['r3']);
    expect(d.reasons.r3).toBe('rebalance');
    expect(d.rebalancedAt).toBe(T);
    // not towards a node that joined less than an interval ago (a returning node gets nothing at once)
    const newcomer = { ...base, nodes: [node('a'), { ...node('b'), joinedAt: T - 29_000 }] };
    expect(reconcile(newcomer).release).toEqual([]);
    expect(reconcile({ ...newcomer, nodes: [node('a'), { ...node('b'), joinedAt: T - 30_000 }] }).release).toEqual(['r3']);
    // within the interval after that release: nothing more
    expect(reconcile({ ...base, lastRebalanceAt: T - 29_000 }).release).toEqual([]);
    // 2 vs 1 (imbalance 1): stays
    const even = { ...base, cameras: ['r1', 'r2', 'r4'], held: new Map([['r1', T - 50_000], ['r2', T - 40_000]] as const) };
    expect(reconcile(even).release).toEqual([]);
    // 5 vs 0: still one camera per round
    const five = new Map(['s1', 's2', 's3', 's4', 's5'].map((c, i) => [c, T - 60_000 + i] as const));
    const many = reconcile({ ...base, cameras: [...five.keys()], leases: leases(Object.fromEntries([...five.keys()].map((c) => [c, 'a']))), held: five });
    expect(many.release).toEqual(['s5']);
    // b, the emptier node, is the one that then claims the released camera
    const after = reconcile({ ...base, self: 'b', cameras: [...five.keys()], leases: leases({ s1: 'a', s2: 'a', s3: 'a', s4: 'a' }), held: new Map() });
    expect(after.claim).toEqual(['s5']);
  });

  it('releases held cameras that are no longer stored', () => {
    const d = reconcile(input({ self: 'a', cameras: ['k'], held: new Map([['k', T], ['gone', T]]), leases: leases({ k: 'a', gone: 'a' }) }));
    expect(d.release).toEqual(['gone']);
    expect(d.reasons.gone).toBe('removed');
  });

  it('ignores leases that expired, and leases the node holds count as live whatever it heard', () => {
    // self holds k (renewing it), but its own watch has not echoed the renewal for a while: still its own.
    const d = reconcile(input({ self: 'a', cameras: ['k'], held: new Map([['k', T - 60_000]]), leases: leases({ k: 'a' }, T - 30_000) }));
    expect(d.claim).toEqual([]);
    expect(d.release).toEqual([]);
  });
});
