import { describe, expect, it } from 'vitest';
import { LeaseInfo, PlacementNode, reconcile, ReconcileInput } from './reconciler';

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
  it('puts a new camera on the least-loaded node by measured load, not by count alone', () => {
    // b runs one camera but its machine is nearly idle; a runs one too and is busy; c runs two.
    const nodes = [node('a', 0.9), node('b', 0.05), node('c', 0.5)];
    const base = { ...input({ self: 'a' }), nodes, cameras: ['c1', 'c2', 'c3', 'c4', 'new'], leases: leases({ c1: 'a', c2: 'b', c3: 'c', c4: 'c' }) };
    const all = claimsOfAll(base, { a: ['c1'], b: ['c2'], c: ['c3', 'c4'] });
    expect(all.get('b')).toEqual(['new']);
    expect(all.get('a')).toEqual([]);
    expect(all.get('c')).toEqual([]);
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
