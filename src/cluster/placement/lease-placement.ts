import type { CameraStatus } from '../../contracts/cameras';
import type { NodeCameraState } from '../../contracts/cluster';
import { CameraPlacement, PlacementHost } from '../../contracts/ports/camera-placement';
import type { ClusterMetrics } from '../cluster.metrics';
import { KvBucket, KvConflictError, NatsLink, Unsubscribe } from '../nats.link';
import { LeaseInfo, PlacementNode, reconcile } from './reconciler';

/** The lease bucket: key = camera id, value = {node, at} JSON; max_age = CAMERA_LEASE_TTL_MS. */
export const LEASES_BUCKET = 'iex-leases';

export interface LeasePlacementOptions {
  nodeId: string;
  leaseTtlMs: number;
  reconcileMs: number;
  claimGraceMs: number;
  rebalanceMs: number;
  /** The live nodes (self included) with their measured load: the membership's view. */
  nodes: () => PlacementNode[];
  /** A camera's state as another node last reported it in its heartbeat (the membership's), if known. */
  reportedState?: (nodeId: string, cameraId: string) => NodeCameraState | undefined;
  now?: () => number;
  log?: { log(msg: string): void; warn(msg: string): void };
  /** Called on each start/stop decision, for metrics and tests. */
  onTransition?: (t: { cameraId: string; action: 'start' | 'stop'; reason: string; at: number }) => void;
  metrics?: ClusterMetrics;
}

interface Held {
  revision: number;
  claimedAt: number;
  /** Local time after which the lease may have expired in the bucket: the camera must be stopped by then. */
  stopBy: number;
  renewing: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Camera placement with leases in a JetStream KV bucket (docs/CLUSTER.md, "Camera sharding").
 *
 * - claim = `create` (refused while another node's lease is live), then start the camera;
 * - renew every TTL/3 with `update(revision)` (compare-and-set: refused if the lease moved on or expired);
 * - THE RULE: a held camera is stopped (a) at once when a renewal is refused, and (b) when `stopBy` passes, where
 *   stopBy = (local time the last acknowledged write was SENT) + TTL − margin. JetStream counts the TTL from when it
 *   stored the write, which is after it was sent, so the lease cannot expire in the bucket — and no other node can
 *   claim it — before this node has begun stopping the camera; the margin (TTL/5, at most 2 s) covers the stop itself
 *   (ffmpeg killed) and clock rate differences. A node cut off from NATS therefore keeps running its cameras for less
 *   than one TTL after its last renewal, then stops them; so no camera runs on two nodes at once beyond that margin,
 *   and never for longer than a lease;
 * - release (rebalance, camera removed, shutdown) = stop the camera first, then delete the lease;
 * - the decision what to claim or release is reconcile() (reconciler.ts), every CAMERA_RECONCILE_MS and at once after
 *   changed(). Expiry is not announced by NATS 2.9, so each node ages the leases it heard of by its own clock.
 */
export class LeasePlacement extends CameraPlacement {
  readonly clustered = true;
  private host: PlacementHost | null = null;
  private bucket: KvBucket | null = null;
  private unwatch: Unsubscribe | null = null;
  private readonly leases = new Map<string, LeaseInfo & { revision: number }>();
  private readonly held = new Map<string, Held>();
  private unownedSince = new Map<string, number>();
  private lastRebalanceAt: number;
  private timer: NodeJS.Timeout | null = null;
  private lastRenewAt = 0;
  private lastReconcileAt = 0;
  private reconciling: Promise<void> | null = null;
  private nudged = false;
  private detached = false;
  private readonly stopping = new Set<Promise<void>>();
  /** When this node first saw each live node (this time round): rebalancing waits for a newcomer to settle. */
  private readonly joined = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly link: NatsLink,
    private readonly options: LeasePlacementOptions,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.lastRebalanceAt = this.now();
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Stop a held camera this long before its lease could expire. */
  get marginMs(): number {
    return Math.min(2000, Math.floor(this.options.leaseTtlMs / 5));
  }

  async attach(host: PlacementHost): Promise<void> {
    this.host = host;
    this.detached = false;
    this.lastRebalanceAt = this.now();
    await this.open().catch(() => undefined); // NATS away: the ticks retry
    const period = Math.max(50, Math.min(500, Math.floor(this.options.leaseTtlMs / 10)));
    this.timer = setInterval(() => void this.safeTick(), period);
    this.timer.unref();
    // The first round waits one period: the lease watch and the membership have heard the others by then.
    this.lastReconcileAt = this.now();
  }

  async detach(): Promise<void> {
    this.detached = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reconciling?.catch(() => undefined);
    const ids = [...this.held.keys()];
    await Promise.all(ids.map((id) => this.release(id, 'shutdown')));
    await Promise.all([...this.stopping]);
    this.unwatch?.();
    this.unwatch = null;
  }

  ownerOf(cameraId: string): string | null {
    if (this.held.has(cameraId)) return this.nodeId;
    const l = this.leases.get(cameraId);
    return l && this.now() - l.heardAt < this.options.leaseTtlMs && l.node !== this.nodeId ? l.node : null;
  }

  override reportedStatus(cameraId: string): CameraStatus | null {
    const owner = this.ownerOf(cameraId);
    if (!owner || owner === this.nodeId) return null;
    const s = this.options.reportedState?.(owner, cameraId);
    return s ? { cameraId, ...s } : null;
  }

  /** The cameras this node holds a lease for (and runs). */
  heldCameras(): string[] {
    return [...this.held.keys()].sort();
  }

  changed(): void {
    if (this.detached || !this.host) return;
    this.nudged = true;
    setImmediate(() => void this.safeTick());
  }

  /** A tick from a timer: a failure (the host's table closed at shutdown, say) is logged, never unhandled. */
  private async safeTick(): Promise<void> {
    try {
      await this.tick();
    } catch (e) {
      this.options.log?.warn(`camera placement round failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** One timer tick: stop what must stop, renew every TTL/3, reconcile every CAMERA_RECONCILE_MS (or when nudged). */
  async tick(): Promise<void> {
    if (this.detached) return;
    const now = this.now();
    for (const [id, h] of this.held) if (now >= h.stopBy) this.lose(id, 'lease not renewed in time');
    if (now - this.lastRenewAt >= this.options.leaseTtlMs / 3) {
      this.lastRenewAt = now;
      for (const id of this.held.keys()) void this.renew(id);
    }
    if (this.nudged || now - this.lastReconcileAt >= this.options.reconcileMs) {
      this.nudged = false;
      await this.reconcileNow();
    }
  }

  private async open(): Promise<KvBucket> {
    if (this.bucket) return this.bucket;
    const bucket = await this.link.kv(LEASES_BUCKET, { ttlMs: this.options.leaseTtlMs, history: 1 });
    this.unwatch = await bucket.watch((c) => {
      if (c.value === null) {
        this.leases.delete(c.key);
        return;
      }
      try {
        const v = JSON.parse(decoder.decode(c.value)) as { node?: unknown };
        if (typeof v.node === 'string') this.leases.set(c.key, { node: v.node, heardAt: this.now(), revision: c.revision });
      } catch {
        // not a lease: ignore
      }
    });
    this.bucket = bucket;
    return bucket;
  }

  private reconcileNow(): Promise<void> {
    if (this.reconciling) {
      this.nudged = true;
      return this.reconciling;
    }
    this.reconciling = this.round().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  private async round(): Promise<void> {
    const host = this.host;
    if (!host || this.detached) return;
    this.lastReconcileAt = this.now();
    let bucket: KvBucket;
    try {
      bucket = await this.open();
    } catch {
      return;
    }
    const now = this.now();
    const d = reconcile({
      self: this.nodeId,
      now,
      cameras: host.storedCameraIds(),
      leases: this.leases,
      held: new Map([...this.held].map(([id, h]) => [id, h.claimedAt])),
      nodes: this.liveNodes(now),
      unownedSince: this.unownedSince,
      lastRebalanceAt: this.lastRebalanceAt,
      settings: { leaseTtlMs: this.options.leaseTtlMs, claimGraceMs: this.options.claimGraceMs, rebalanceMs: this.options.rebalanceMs },
    });
    this.unownedSince = d.unownedSince;
    if (d.rebalancedAt !== undefined) this.lastRebalanceAt = d.rebalancedAt;
    await Promise.all(d.release.map((id) => this.release(id, d.reasons[id] ?? 'removed')));
    for (const id of d.claim) {
      if (this.detached) return;
      await this.claim(bucket, id);
    }
  }

  private liveNodes(now: number): PlacementNode[] {
    const nodes = this.options.nodes();
    const ids = new Set(nodes.map((n) => n.id));
    for (const id of this.joined.keys()) if (!ids.has(id)) this.joined.delete(id);
    return nodes.map((n) => {
      if (!this.joined.has(n.id)) this.joined.set(n.id, now);
      return { ...n, joinedAt: this.joined.get(n.id)! };
    });
  }

  private async claim(bucket: KvBucket, id: string): Promise<void> {
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await bucket.create(id, this.value());
    } catch (e) {
      if (!(e instanceof KvConflictError)) this.options.log?.warn(`camera ${id}: claim failed: ${e instanceof Error ? e.message : e}`);
      return;
    }
    if (this.detached) {
      await bucket.delete(id).catch(() => undefined);
      return;
    }
    const at = this.now();
    this.held.set(id, { revision, claimedAt: at, stopBy: sentAt + this.options.leaseTtlMs - this.marginMs, renewing: false });
    this.leases.set(id, { node: this.nodeId, heardAt: at, revision });
    this.unownedSince.delete(id);
    this.options.log?.log(`camera ${id}: claimed, starting here`);
    this.options.onTransition?.({ cameraId: id, action: 'start', reason: 'claimed', at });
    this.options.metrics?.cameraClaims.inc();
    this.options.metrics?.cameraLeases.set(this.held.size);
    this.host?.start(id);
  }

  private async renew(id: string): Promise<void> {
    const h = this.held.get(id);
    const bucket = this.bucket;
    if (!h || h.renewing || !bucket) return;
    h.renewing = true;
    const sentAt = this.now();
    try {
      const revision = await bucket.update(id, this.value(), h.revision);
      if (this.held.get(id) !== h) return; // stopped meanwhile (deadline passed, or released)
      h.revision = revision;
      h.stopBy = sentAt + this.options.leaseTtlMs - this.marginMs;
    } catch (e) {
      if (this.held.get(id) !== h) return;
      if (e instanceof KvConflictError) this.lose(id, 'lease taken or expired');
      // NATS unreachable or slow: keep running until stopBy, the next tick tries again.
    } finally {
      h.renewing = false;
    }
  }

  /** The lease is gone (or may be): stop the camera now. */
  private lose(id: string, reason: string): void {
    if (!this.held.delete(id)) return;
    this.options.log?.warn(`camera ${id}: ${reason}; stopped here`);
    this.options.onTransition?.({ cameraId: id, action: 'stop', reason, at: this.now() });
    this.options.metrics?.cameraStops.inc({ reason: 'lost' });
    this.options.metrics?.cameraLeases.set(this.held.size);
    this.stopHost(id);
  }

  private async release(id: string, reason: string): Promise<void> {
    if (!this.held.delete(id)) return;
    this.options.onTransition?.({ cameraId: id, action: 'stop', reason, at: this.now() });
    this.options.metrics?.cameraStops.inc({ reason });
    this.options.metrics?.cameraLeases.set(this.held.size);
    this.options.log?.log(`camera ${id}: released (${reason})`);
    await this.stopHost(id);
    // Only once it has stopped here may another node claim it.
    if (this.link.status() === 'connected') await this.bucket?.delete(id).catch(() => undefined);
    this.leases.delete(id);
  }

  private stopHost(id: string): Promise<void> {
    const p = (this.host?.stop(id) ?? Promise.resolve()).catch(() => undefined);
    this.stopping.add(p);
    void p.finally(() => this.stopping.delete(p));
    return p;
  }

  private value(): Uint8Array {
    return encoder.encode(JSON.stringify({ node: this.nodeId, at: this.now() }));
  }
}
