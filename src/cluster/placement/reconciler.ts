/**
 * Camera placement, the pure part: given what a node knows (the stored cameras, the live leases, the live nodes with
 * their measured load, its own id and the time), which cameras it should claim and which it should give up. The
 * LeasePlacement loop (lease-placement.ts) runs it every CAMERA_RECONCILE_MS and does the I/O; this file does none.
 *
 * The rules (docs/CLUSTER.md, "Camera sharding"):
 * - a camera with a live lease is left to its holder, whoever that is: a node never takes a held camera, so a node
 *   that joins or returns steals nothing;
 * - a camera without a live lease (new, released, or its owner's lease expired) is placed on the emptiest live node
 *   (rank(): fewest cameras held or placed, measured load for ties and to skip a saturated node). Every node computes
 *   the same placement from the same view, cameras in id order, each placement counting for the node it went to, so a
 *   burst of new cameras spreads instead of piling on one node;
 * - if that node has not claimed it after CAMERA_CLAIM_GRACE_MS (it died, or it cannot reach JetStream), the next node
 *   in the ranking may, then the next, one per grace period: one claimer per camera at any time, and the lease bucket's
 *   create refuses a second claim anyway;
 * - rebalancing is gradual: a node holding more than one camera more than the emptiest live node releases ONE
 *   camera (its newest claim) per CAMERA_REBALANCE_MS, never within CAMERA_REBALANCE_MS of starting, and only towards
 *   nodes that have been live for CAMERA_REBALANCE_MS (a node that just joined or returned gets nothing at once);
 * - a node releases a camera that is no longer stored.
 */
import type { NodeLoad } from '../../contracts/cluster';

/** A live lease as this node last heard of it. */
export interface LeaseInfo {
  /** The holder. */
  node: string;
  /** Local time this node last heard it written (claimed or renewed). */
  heardAt: number;
}

export interface PlacementNode {
  id: string;
  load: NodeLoad;
  /** Local time this node first saw it live (this time round); unset = long ago. */
  joinedAt?: number;
}

export interface ReconcileInput {
  self: string;
  now: number;
  /** Stored camera ids (the camera table, as replicated to this node). */
  cameras: readonly string[];
  /** Leases by camera id as last heard (expired ones included: the lease TTL decides). */
  leases: ReadonlyMap<string, LeaseInfo>;
  /** The cameras this node holds a lease for now, with the local time it claimed each. */
  held: ReadonlyMap<string, number>;
  /** Live nodes (self included), with their last measured load. */
  nodes: readonly PlacementNode[];
  /** When this node first saw each camera without a live lease (kept by the caller between rounds). */
  unownedSince: ReadonlyMap<string, number>;
  /** When this node last released a camera to rebalance, or when it started. */
  lastRebalanceAt: number;
  settings: ReconcileSettings;
}

export interface ReconcileSettings {
  leaseTtlMs: number;
  claimGraceMs: number;
  rebalanceMs: number;
}

export interface ReconcileDecision {
  /** Cameras this node should claim now (kv.create), in order. */
  claim: string[];
  /** Cameras this node should stop and release (kv.delete). */
  release: string[];
  /** Why each release: `removed` (no longer stored) or `rebalance`. */
  reasons: Record<string, 'removed' | 'rebalance'>;
  /** The next round's unownedSince (cameras that have a live lease are dropped from it). */
  unownedSince: Map<string, number>;
  /** Set when this decision releases a camera to rebalance. */
  rebalancedAt?: number;
  /** For each camera without a live lease: the node that should claim it now (for tests and logs). */
  assigned: Map<string, string>;
}

/**
 * A node whose last reported CPU share is at least this is full: it gets a new camera only when every live node is.
 * Below it, measured load only breaks ties between nodes holding as many cameras (see rank()).
 */
export const SATURATED_CPU = 0.9;

/**
 * Width of the CPU-share steps compared when two nodes hold as many cameras: differences inside one step are noise
 * (a REST burst, a GC, a heartbeat sampled while ffmpeg started) and must not decide, or two nodes whose views differ
 * by such noise would each rank the other first.
 */
export const CPU_TIE_STEP = 0.1;

/** Whether a lease heard at `heardAt` can still be live (its holder renewed it less than a TTL ago). */
export function leaseLive(lease: LeaseInfo | undefined, now: number, ttlMs: number): boolean {
  return lease !== undefined && now - lease.heardAt < ttlMs;
}

/**
 * The placement order, emptiest first: (1) nodes not saturated (reported CPU share < SATURATED_CPU) before saturated
 * ones; (2) fewer cameras, counting the live leases it holds plus the cameras placed on it earlier in this round (the
 * claims in flight: every node computes the same round, so a burst spreads one camera per node in turn); (3) lower
 * reported CPU share, in CPU_TIE_STEP steps; (4) node id, so every node ranks the same way.
 *
 * Why the count comes first: measured load used as the primary key let an idle node's CPU noise outweigh whole
 * cameras. A 5-fps file camera costs ~0.025 of a 2-core machine (the former estimate, 0.1 core per 10-fps stream), so a
 * node whose heartbeat sample caught a REST burst or its model loading looked fuller than a node running several
 * cameras, and six cameras added in a burst went 4/1/1 or 3/3/0 in the 3-node e2e. Worse, each node sampled its own
 * load afresh at every round while it saw the others' from their last heartbeat, so the nodes did not even agree on
 * the order.
 */
export function rank(
  nodes: readonly PlacementNode[],
  counts: ReadonlyMap<string, number>,
  added: ReadonlyMap<string, number> = new Map(),
): PlacementNode[] {
  const full = (n: PlacementNode) => (n.load.cpu >= SATURATED_CPU ? 1 : 0);
  const total = (n: PlacementNode) => (counts.get(n.id) ?? 0) + (added.get(n.id) ?? 0);
  const step = (n: PlacementNode) => Math.floor(Math.max(0, n.load.cpu) / CPU_TIE_STEP);
  return [...nodes].sort((a, b) => full(a) - full(b) || total(a) - total(b) || step(a) - step(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function reconcile(input: ReconcileInput): ReconcileDecision {
  const { self, now, settings } = input;
  const stored = new Set(input.cameras);
  const live = new Set(input.nodes.map((n) => n.id));
  const nodes = live.has(self) ? input.nodes : [...input.nodes, { id: self, load: { framesPerSecond: 0, cpu: 0, cores: 1 } }];

  // Who runs what: the live leases (this node's own holdings count as live, whatever it heard).
  const holder = new Map<string, string>();
  for (const [camera, lease] of input.leases) {
    if (leaseLive(lease, now, settings.leaseTtlMs)) holder.set(camera, lease.node);
  }
  for (const camera of input.held.keys()) holder.set(camera, self);

  const release: string[] = [];
  const reasons: Record<string, 'removed' | 'rebalance'> = {};
  for (const camera of [...input.held.keys()].sort()) {
    if (!stored.has(camera)) {
      release.push(camera);
      reasons[camera] = 'removed';
      holder.delete(camera);
    }
  }

  const counts = new Map<string, number>();
  for (const [camera, node] of holder) if (stored.has(camera)) counts.set(node, (counts.get(node) ?? 0) + 1);

  // Place every camera nobody holds, in id order, each placement counting for the next.
  const unownedSince = new Map<string, number>();
  const assigned = new Map<string, string>();
  const added = new Map<string, number>();
  const claim: string[] = [];
  for (const camera of [...stored].sort()) {
    if (holder.has(camera)) continue;
    const since = input.unownedSince.get(camera) ?? now;
    unownedSince.set(camera, since);
    const ranked = rank(nodes, counts, added);
    // The preferred node first; after each grace period without a claim, the next one (it may be dead or cut off).
    const turn = settings.claimGraceMs > 0 ? Math.floor((now - since) / settings.claimGraceMs) : 0;
    const chosen = ranked[turn % ranked.length].id;
    assigned.set(camera, chosen);
    added.set(chosen, (added.get(chosen) ?? 0) + 1);
    if (chosen === self) claim.push(camera);
  }

  // Gradual rebalance: one camera per period, only from a node more than one camera above the emptiest live node.
  let rebalancedAt: number | undefined;
  if (now - input.lastRebalanceAt >= settings.rebalanceMs) {
    const mine = [...input.held.keys()].filter((c) => stored.has(c) && !reasons[c]);
    let fewest = Infinity;
    for (const n of nodes) {
      if (n.id === self || (n.joinedAt !== undefined && now - n.joinedAt < settings.rebalanceMs)) continue;
      fewest = Math.min(fewest, (counts.get(n.id) ?? 0) + (added.get(n.id) ?? 0));
    }
    if (fewest !== Infinity && mine.length - fewest > 1) {
      // The newest claim goes: the cameras that have run here longest stay put.
      mine.sort((a, b) => input.held.get(b)! - input.held.get(a)! || (a < b ? 1 : a > b ? -1 : 0));
      const camera = mine[0];
      release.push(camera);
      reasons[camera] = 'rebalance';
      rebalancedAt = now;
    }
  }

  return { claim, release, reasons, unownedSince, assigned, ...(rebalancedAt !== undefined ? { rebalancedAt } : {}) };
}
