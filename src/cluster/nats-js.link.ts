import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { KV, Kvm } from '@nats-io/kv';
import { ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ClusterUnavailableError, redactNatsServers } from './cluster.errors';
import { KvBucket, KvBucketOptions, KvChange, KvConflictError, KvEntry, LinkMessage, LinkStatus, NatsLink, ObjectBucket, Unsubscribe } from './nats.link';

export interface NatsConnectOptions {
  /** NATS_URL: one or several comma-separated URLs. */
  servers: string;
  /** Connection name the NATS server shows (`iexpressionnet/<nodeId>`). */
  name: string;
  /** JetStream copies of each bucket this link creates (NATS_REPLICAS). */
  replicas: number;
  /** How long the first connection may take before the node gives up (ms). */
  connectTimeoutMs?: number;
}

/**
 * Connects to NATS or throws ClusterUnavailableError naming the (redacted) URL. Once connected, the client reconnects
 * for ever (any server of the list, and those the cluster gossips), every 1 s ± 100 ms.
 */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsJsLink> {
  const servers = opts.servers.split(',').map((s) => s.trim()).filter(Boolean);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: opts.name,
      noEcho: true,
      timeout: opts.connectTimeoutMs ?? 5000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      reconnectJitter: 100,
      // A dead server is noticed within pingInterval * maxPingOut when its socket does not close (network partition).
      pingInterval: 5000,
      maxPingOut: 2,
    });
  } catch (e) {
    throw new ClusterUnavailableError(opts.servers, e instanceof Error ? e.message : String(e));
  }
  return new NatsJsLink(nc, redactNatsServers(opts.servers), opts.replicas);
}

/** NatsLink on the nats.js client (@nats-io/transport-node) and its KV (@nats-io/kv). */
export class NatsJsLink extends NatsLink {
  private current: LinkStatus = 'connected';
  private readonly listeners = new Set<(s: LinkStatus) => void>();
  private readonly clusterListeners = new Set<() => void>();
  private readonly kvm: Kvm;

  constructor(
    /** The nats.js connection, for what the port does not cover yet (streams, the object store): see docs/CLUSTER.md. */
    readonly connection: NatsConnection,
    readonly servers: string,
    private readonly replicas: number,
  ) {
    super();
    this.kvm = new Kvm(connection);
    void this.watchStatus();
    void connection.closed().then(() => this.set('closed'));
  }

  status(): LinkStatus {
    return this.current;
  }

  onStatus(listener: (status: LinkStatus) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` when the NATS cluster may have changed under this connection: at each reconnection, and each time
   * the server sends a new INFO (NATS servers announce it to their clients when a server of the cluster leaves or joins).
   */
  onClusterChange(listener: () => void): Unsubscribe {
    this.clusterListeners.add(listener);
    return () => this.clusterListeners.delete(listener);
  }

  publish(subject: string, data: Uint8Array): void {
    this.connection.publish(subject, data);
  }

  subscribe(subject: string, onMessage: (msg: LinkMessage) => void, opts: { queue?: string } = {}): Unsubscribe {
    const sub: Subscription = this.connection.subscribe(subject, {
      ...(opts.queue ? { queue: opts.queue } : {}),
      callback: (err, msg) => {
        if (err) return;
        onMessage({ subject: msg.subject, data: msg.data, ...(msg.reply ? { reply: msg.reply } : {}) });
      },
    });
    return () => sub.unsubscribe();
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const msg = await this.connection.request(subject, data, { timeout: timeoutMs });
    return msg.data;
  }

  async kv(bucket: string, opts: KvBucketOptions = {}): Promise<KvBucket> {
    const kv = await this.kvm.create(bucket, {
      replicas: this.replicas,
      history: opts.history ?? 1,
      ...(opts.ttlMs ? { ttl: opts.ttlMs } : {}),
    });
    return new JsKvBucket(bucket, kv, (listener) => this.onClusterChange(listener), () => this.current === 'closed');
  }

  async objectStore(bucket: string): Promise<ObjectBucket> {
    return new JsObjectBucket(bucket, await new Objm(this.connection).create(bucket, { replicas: this.replicas }));
  }

  async close(): Promise<void> {
    if (this.current === 'closed') return;
    await this.connection.drain().catch(() => this.connection.close());
    this.set('closed');
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.connection.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') this.set('disconnected');
      else if (s.type === 'reconnect') this.set('connected');
      else if (s.type === 'close') this.set('closed');
      if (s.type === 'reconnect' || s.type === 'update') {
        for (const l of this.clusterListeners) {
          try {
            l();
          } catch {
            // a listener's failure is its own
          }
        }
      }
    }
  }

  private set(status: LinkStatus): void {
    if (this.current === status || this.current === 'closed') return;
    this.current = status;
    for (const l of this.listeners) {
      try {
        l(status);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}

const CONFLICTS: number[] = [JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown];

type KvWatchIterator = Awaited<ReturnType<KV['watch']>>;

class JsKvBucket implements KvBucket {
  constructor(
    readonly name: string,
    private readonly kv: KV,
    /** Calls `listener` at each reconnection and each change of the NATS cluster the server announces. */
    private readonly onClusterChange: (listener: () => void) => Unsubscribe,
    private readonly isClosed: () => boolean,
  ) {}

  put(key: string, value: Uint8Array): Promise<number> {
    return this.kv.put(key, value);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    return this.conflicts(key, () => this.kv.create(key, value));
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.conflicts(key, () => this.kv.update(key, value, revision));
  }

  async get(key: string): Promise<KvEntry | null> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return null;
    return { key: e.key, value: e.value, revision: e.revision };
  }

  delete(key: string): Promise<void> {
    return this.kv.delete(key);
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys()) out.push(k);
    return out;
  }

  /**
   * Every live entry, then every later put/delete, each revision once and in order — also when a NATS server dies.
   *
   * Why: kv.watch() is an ordered push consumer, an R1 ephemeral consumer on one NATS server of the stream's peers,
   * and nats.js notices that it is gone only when two of its idle heartbeats are missed, an interval it fixes at 30 s
   * for ordered consumers (and the count restarts at a reconnection). So when the server holding it died, the watch
   * stayed silent for 60 s before nats.js began re-creating the consumer, on survivors that answer consumer creations
   * slowly right then: replicated writes reached the node ~90 s late. Instead, whenever the NATS cluster changes under
   * this connection (a reconnection, or the server announcing a changed cluster: a server left or joined), a new watch
   * is opened from the revision after the last one delivered, retried with growing waits (0.25 s doubling to 2 s);
   * once it is open it replaces the old one, which keeps delivering meanwhile (it may be alive). A generation number
   * makes the old one deliver nothing after the switch, and revisions already delivered are skipped, so each revision
   * arrives once and in order.
   */
  async watch(onChange: (change: KvChange) => void): Promise<Unsubscribe> {
    let last = 0;
    let stopped = false;
    let generation = 0;
    let current: KvWatchIterator = await this.kv.watch();
    const pump = (iter: KvWatchIterator, gen: number) =>
      void (async () => {
        for await (const e of iter) {
          if (gen !== generation) break;
          if (e.revision <= last) continue;
          last = e.revision;
          try {
            onChange({ key: e.key, value: e.operation === 'PUT' ? e.value : null, revision: e.revision });
          } catch {
            // the watcher's failure is its own; keep watching
          }
        }
      })().catch(() => undefined);
    pump(current, generation);
    let reopening = false;
    let again = false;
    const reopen = async () => {
      const wait = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
      for (let attempt = 0; !stopped; attempt++) {
        // one event often brings both a new INFO and a reconnection: wait a moment so that they cost one re-opening
        if (attempt === 0) await wait(200);
        // a closed connection never answers: nothing to re-open (the owner's unwatch may never come)
        if (this.isClosed()) return;
        again = false;
        try {
          const next = await this.kv.watch({ resumeFromRevision: last + 1 });
          if (stopped) {
            next.stop();
            return;
          }
          const old = current;
          current = next;
          generation++;
          old.stop();
          pump(next, generation);
          // the cluster changed again while this one was being opened: it may sit on a server that has gone since
          if (!again) return;
        } catch {
          await wait(Math.min(2000, 250 * 2 ** attempt));
        }
      }
    };
    const off = this.onClusterChange(() => {
      if (stopped) return;
      if (reopening) {
        again = true;
        return;
      }
      reopening = true;
      void reopen().finally(() => {
        reopening = false;
      });
    });
    return () => {
      stopped = true;
      off();
      current.stop();
    };
  }

  private async conflicts(key: string, write: () => Promise<number>): Promise<number> {
    try {
      return await write();
    } catch (e) {
      if (e instanceof JetStreamApiError && CONFLICTS.includes(e.code)) throw new KvConflictError(this.name, key);
      throw e;
    }
  }
}

class JsObjectBucket implements ObjectBucket {
  constructor(
    readonly name: string,
    private readonly os: ObjectStore,
  ) {}

  async put(name: string, bytes: Uint8Array): Promise<void> {
    await this.os.putBlob({ name }, bytes);
  }

  get(name: string): Promise<Uint8Array | null> {
    return this.os.getBlob(name);
  }

  async delete(name: string): Promise<void> {
    try {
      await this.os.delete(name);
    } catch (e) {
      if (!/not found/i.test(e instanceof Error ? e.message : String(e))) throw e;
    }
  }

  async list(): Promise<string[]> {
    return (await this.os.list()).filter((i) => !i.deleted).map((i) => i.name);
  }
}
