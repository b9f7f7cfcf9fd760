import type { ClusterView, NodeLoad, NodeView } from '../contracts/cluster';
import type { ClusterMetrics } from './cluster.metrics';
import { KvBucket, NatsLink, Unsubscribe } from './nats.link';
import type { NodeLoadMeter } from './node-load.meter';

/** The membership bucket: one key per live node (its id), the value its NodeView as JSON. */
export const NODES_BUCKET = 'iex-nodes';

/**
 * Who is in the cluster (port and Nest token). `view()` is what GET /api/cluster answers; `changes` listeners hear of
 * every heartbeat, join and leave (camera placement builds on it).
 */
export abstract class ClusterMembership {
  /** This node as it reports itself now. */
  abstract self(): NodeView;
  /** Every live node, self included, sorted by id. */
  abstract view(): ClusterView;
  /** This node's HTTP address (known once it listens). */
  abstract advertise(url: string): void;
  /** Starts reporting (heartbeats) and watching; resolves once the current members are known, or NATS is away. */
  abstract start(): Promise<void>;
  /** Stops reporting; a clustered node removes its entry, so the others see it leave at once. */
  abstract stop(): Promise<void>;
  /**
   * Another live node's last heartbeat (its cameras' states included), or null: unknown, gone, or this node. Unlike
   * view() it measures nothing (no load sample is taken).
   */
  reported(nodeId: string): NodeView | null {
    void nodeId;
    return null;
  }
}

/** One node on its own (no NATS_URL): the view is just itself. */
export class SingleNodeMembership extends ClusterMembership {
  private url: string | null = null;

  constructor(
    private readonly nodeId: string,
    private readonly meter: NodeLoadMeter,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  self(): NodeView {
    return { id: this.nodeId, url: this.url, cameras: this.meter.cameras(), cameraStates: this.meter.states(), load: this.meter.sample(), lastSeen: this.now() };
  }

  view(): ClusterView {
    const self = this.self();
    return { self, nodes: [self] };
  }

  advertise(url: string): void {
    this.url = url;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.meter.stop();
  }
}

export interface KvMembershipOptions {
  nodeId: string;
  /** CLUSTER_HEARTBEAT_MS; the bucket's TTL is 3 periods. */
  heartbeatMs: number;
  metrics: ClusterMetrics;
  now?: () => number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Membership in a JetStream KV bucket (`iex-nodes`, max_age = 3 heartbeats): each node puts its NodeView under its id
 * every CLUSTER_HEARTBEAT_MS and watches the bucket. A node that stops cleanly deletes its key (the others drop it at
 * once); one that dies stops heartbeating and is dropped when its last report is 3 heartbeats old, by the local clock
 * of the node that watches (NATS 2.9 does not announce expiry; the bucket's TTL removes the entry for nodes that
 * start later). Heartbeats that fail while NATS is away are counted and retried on the next tick.
 */
export class KvMembership extends ClusterMembership {
  private url: string | null = null;
  private bucket: KvBucket | null = null;
  private unwatch: Unsubscribe | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly members = new Map<string, { view: NodeView; heardAt: number }>();
  private readonly listeners = new Set<(view: ClusterView) => void>();
  private readonly now: () => number;
  private stopped = false;
  private beating: Promise<void> = Promise.resolve();
  /** The load sampled for the last heartbeat (null before the first). */
  private load: NodeLoad | null = null;

  constructor(
    private readonly link: NatsLink,
    private readonly meter: NodeLoadMeter,
    private readonly options: KvMembershipOptions,
  ) {
    super();
    this.now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.options.heartbeatMs * 3;
  }

  self(): NodeView {
    return {
      id: this.options.nodeId,
      url: this.url,
      cameras: this.meter.cameras(),
      cameraStates: this.meter.states(),
      // The load this node last reported, not a new sample: the figure every other node heard, over one heartbeat
      // period. Sampling here would give each caller (placement rounds, every GET /api/cluster) the rate since the
      // previous caller, over windows as short as 100 ms, and this node would rank itself by another figure than the
      // others rank it by (docs/CLUSTER.md, "Camera sharding").
      load: this.load ?? this.meter.sample(),
      lastSeen: this.now(),
    };
  }

  view(): ClusterView {
    const self = this.self();
    const at = this.now();
    const nodes = [self];
    for (const [id, m] of this.members) {
      if (id !== self.id && at - m.heardAt < this.ttlMs) nodes.push(m.view);
    }
    nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { self, nodes };
  }

  override reported(nodeId: string): NodeView | null {
    if (nodeId === this.options.nodeId) return null;
    const m = this.members.get(nodeId);
    return m && this.now() - m.heardAt < this.ttlMs ? m.view : null;
  }

  /** Called with the new view after each change heard from the bucket. */
  onChange(listener: (view: ClusterView) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  advertise(url: string): void {
    this.url = url;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.timer = setInterval(() => {
      this.beating = this.tick();
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  /** One heartbeat (opening the bucket and its watch first, when that has not worked yet). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    this.load = this.meter.sample();
    try {
      if (!this.bucket) {
        const bucket = await this.link.kv(NODES_BUCKET, { ttlMs: this.ttlMs, history: 1 });
        this.unwatch = await bucket.watch((c) => this.heard(c.key, c.value));
        this.bucket = bucket;
      }
      await this.bucket.put(this.options.nodeId, encoder.encode(JSON.stringify(this.self())));
    } catch {
      this.options.metrics.heartbeatsFailed.inc();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    this.unwatch?.();
    this.unwatch = null;
    if (this.bucket && this.link.status() === 'connected') {
      await this.bucket.delete(this.options.nodeId).catch(() => undefined);
    }
    this.meter.stop();
  }

  private heard(key: string, value: Uint8Array | null): void {
    if (value === null) {
      this.members.delete(key);
    } else {
      try {
        const view = JSON.parse(decoder.decode(value)) as NodeView;
        if (!view || typeof view !== 'object' || view.id !== key) return;
        this.members.set(key, { view, heardAt: this.now() });
      } catch {
        return;
      }
    }
    if (this.listeners.size === 0) return;
    const v = this.view();
    for (const l of this.listeners) l(v);
  }
}
