import { ReplicatedChanges, ReplicatedRowChange } from '../../contracts/ports/replicated-changes';
import { decodeKey } from './kv-keys';
import { ReplicationUnavailableError, PendingWrites } from './pending-writes';
import type { CapturedChange, LocalReplica } from './sqlite-replica';
import type { TableSpec } from './replicated-tables';
import { StartupRetry } from './startup-retry';

/** The parts of a JetStream KV bucket the replicator uses (the cluster's KvBucket has them all). */
export interface ReplicaKv {
  put(key: string, value: Uint8Array): Promise<number>;
  delete(key: string): Promise<void>;
  get(key: string): Promise<{ value: Uint8Array; revision: number } | null>;
  keys(): Promise<string[]>;
  /** Every live entry, then every later put/delete (value null), in revision order. */
  watch(onChange: (change: { key: string; value: Uint8Array | null; revision: number }) => void): Promise<() => void>;
}

/** The parts of the cluster's NATS link the replicator uses. */
export interface ReplicationLink {
  status(): 'connected' | 'disconnected' | 'closed';
  kv(bucket: string, opts?: { history?: number }): Promise<ReplicaKv>;
}

export interface ReplicatorLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Gets in flight at once while a node loads a bucket. */
const LOAD_CONCURRENCY = 64;

/**
 * Keeps the node's SQLite copy of the replicated tables (REPLICATED_TABLES) and the cluster's KV buckets in step
 * (docs/CLUSTER.md "Shared state"):
 * - write(): the repositories' writes go through it: applied locally at once (read-your-writes), every row they changed
 *   (cascades included) put to / deleted from its bucket, the puts tracked by PendingWrites so the edge answers only
 *   once JetStream stored them. A failed put undoes the local change (when nobody changed the row since).
 * - a watcher per bucket applies every put/delete in the bucket's revision order on every node (its own included),
 *   so all nodes converge to the stream's order, whoever wrote last wins; the revision is stored with the row.
 * - start(): loads every bucket before the node serves (a new node gets the full state), removes local rows the
 *   cluster deleted while the node was away, and, the first time a database joins, imports its rows the cluster lacks.
 */
export class StateReplicator extends ReplicatedChanges {
  private readonly buckets = new Map<string, ReplicaKv>();
  private readonly stops: (() => void)[] = [];
  /** Tables another process writes too (the token CLI): their rows as last replicated, to find what it changed. */
  private readonly external = new Map<string, Map<string, string>>();
  private applied = 0;
  private readonly listeners = new Set<(c: ReplicatedRowChange) => void>();
  /** Whether this database joined a cluster for the first time at this start (its rows were imported). */
  firstJoin = false;
  private rejected = 0;

  constructor(
    private readonly link: ReplicationLink,
    private readonly replica: LocalReplica,
    private readonly specs: readonly TableSpec[],
    private readonly pending: PendingWrites,
    private readonly logger: ReplicatorLog,
    /** Tables another process may write to the same database file (`npm run token` writes `tokens`). */
    private readonly externalTables: readonly string[] = ['tokens'],
  ) {
    super();
  }

  on(listener: (change: ReplicatedRowChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Loads every bucket and starts its watcher, all buckets at once. A step JetStream does not answer (a stream
   * electing its leader after a server died or the NATS cluster restarted answers after a few seconds) is tried again
   * with growing waits, each logged, within the start-up budget of `retry` (60 s); past it the start fails with a
   * ClusterStartupError naming the bucket and NATS_URL.
   *
   * Why at once: right after a NATS server died, nats-server 2.9 still places about one R1 consumer in three (each
   * load and watch opens one) on the dead peer for minutes, and each such try costs a 5 s timeout; one bucket after
   * another, a fresh node summed those waits over its eight buckets (often past a minute, measured in
   * docs/CLUSTER.md), at once it waits about as long as its unluckiest bucket. Rows apply with foreign keys off
   * (SqliteReplica), so the buckets' order never mattered.
   */
  async start(retry: StartupRetry = new StartupRetry({ servers: 'NATS_URL', warn: (m) => this.logger.warn(m) })): Promise<void> {
    const loads = await Promise.allSettled(
      this.specs.map((spec) =>
        retry.run(`loading bucket ${spec.bucket}`, async () => {
          const kv = await this.link.kv(spec.bucket, { history: 1 });
          await this.load(spec, kv);
          this.stops.push(await kv.watch((c) => this.onChange(spec, c.key, c.value, c.revision)));
          this.buckets.set(spec.bucket, kv);
          if (this.externalTables.includes(spec.table)) this.external.set(spec.bucket, this.replica.rows(spec));
        }),
      ),
    );
    // every bucket had its chance (none left half-started behind a rejection); the first failure is the node's error
    const failed = loads.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed) throw failed.reason;
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
  }

  /** Remote changes applied (rows that differed) and refused (not a row of their table), since start. */
  stats(): { applied: number; rejected: number } {
    return { applied: this.applied, rejected: this.rejected };
  }

  /**
   * Runs a repository's local write and replicates what it changed. Refused up front (nothing written) while NATS is
   * unreachable: a put queued by a reconnecting client could land after the client was told it failed.
   */
  write<T>(fn: () => T): T {
    if (this.buckets.size < this.specs.length) throw new ReplicationUnavailableError('the shared state is still loading');
    if (this.link.status() !== 'connected') throw new ReplicationUnavailableError('NATS is unreachable');
    const { result, changes } = this.replica.capture(fn);
    if (changes.length) this.pending.track(this.publish(changes));
    return result;
  }

  private async publish(changes: CapturedChange[]): Promise<void> {
    // one put per row, the oldest before-image kept (what to restore); issued in order on one connection = stored in order
    const rows = new Map<string, { spec: TableSpec; key: string; before: string | null }>();
    for (const c of changes) {
      const id = `${c.spec.bucket}\n${c.key}`;
      if (!rows.has(id)) rows.set(id, { spec: c.spec, key: c.key, before: c.before });
    }
    const writes = [...rows.values()].map((r) => {
      const after = this.replica.read(r.spec, r.key);
      this.remember(r.spec, r.key, after);
      const kv = this.buckets.get(r.spec.bucket)!;
      const done = after === null ? kv.delete(r.key) : kv.put(r.key, encoder.encode(after)).then(() => undefined);
      return { ...r, after, done };
    });
    const results = await Promise.allSettled(writes.map((w) => w.done));
    const failed = writes.filter((_, i) => results[i].status === 'rejected');
    if (failed.length === 0) return;
    for (const w of failed) {
      // undo, unless the row moved on since (a later write, or the bucket's newer value)
      if (this.replica.read(w.spec, w.key) === w.after) {
        this.replica.apply(w.spec, w.key, w.before, 0);
        this.remember(w.spec, w.key, w.before);
      }
    }
    const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
    throw new ReplicationUnavailableError(reason instanceof Error ? reason.message : String(reason), { cause: reason });
  }

  /**
   * Replicates what another process committed to the external tables since this node last looked (call it when
   * DataVersionWatcher says another connection committed). A put that fails is tried again at the next call.
   */
  async adoptExternalChanges(): Promise<void> {
    for (const spec of this.specs) {
      const known = this.external.get(spec.bucket);
      const kv = this.buckets.get(spec.bucket);
      if (!known || !kv) continue;
      const now = this.replica.rows(spec);
      const changed = [...new Set([...known.keys(), ...now.keys()])].filter((k) => known.get(k) !== now.get(k));
      for (const k of changed) {
        const after = now.get(k) ?? null;
        try {
          if (after === null) await kv.delete(k);
          else await kv.put(k, encoder.encode(after));
          this.remember(spec, k, after);
        } catch (e) {
          this.logger.warn(`${spec.bucket}/${k}: another process's change not replicated yet: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (changed.length) this.logger.log(`${spec.bucket}: replicated ${changed.length} change(s) made by another process`);
    }
  }

  private remember(spec: TableSpec, key: string, json: string | null): void {
    const known = this.external.get(spec.bucket);
    if (!known) return;
    if (json === null) known.delete(key);
    else known.set(key, json);
  }

  private onChange(spec: TableSpec, key: string, value: Uint8Array | null, revision: number): void {
    try {
      const json = value === null ? null : decoder.decode(value);
      const changed = this.replica.apply(spec, key, json, revision);
      this.remember(spec, key, json);
      if (changed) {
        this.applied++;
        const change = { table: spec.table, key: decodeKey(key), exists: json !== null };
        for (const l of this.listeners) {
          try {
            l(change);
          } catch (e) {
            this.logger.error(`a listener of replicated changes failed: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      }
    } catch (e) {
      this.rejected++;
      this.logger.error(`${spec.bucket}/${key} (revision ${revision}) not applied: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async load(spec: TableSpec, kv: ReplicaKv): Promise<void> {
    const joinedBefore = this.replica.revision(spec.bucket) !== null;
    const remote = await kv.keys();
    for (let i = 0; i < remote.length; i += LOAD_CONCURRENCY) {
      const entries = await Promise.all(remote.slice(i, i + LOAD_CONCURRENCY).map((k) => kv.get(k).then((e) => ({ k, e }))));
      for (const { k, e } of entries) if (e) this.onChange(spec, k, e.value, e.revision);
    }
    const inCluster = new Set(remote);
    const localOnly = this.replica.keys(spec).filter((k) => !inCluster.has(k));
    if (joinedBefore) {
      // deleted in the cluster while this node was away
      for (const k of localOnly) this.replica.apply(spec, k, null, 0);
      if (localOnly.length) this.logger.log(`${spec.bucket}: removed ${localOnly.length} row(s) deleted while this node was away`);
    } else {
      this.firstJoin = true;
      // this database's first join: what it holds and the cluster lacks becomes the cluster's
      for (const k of localOnly) {
        const json = this.replica.read(spec, k);
        if (json !== null) await kv.put(k, encoder.encode(json));
      }
      if (localOnly.length) this.logger.log(`${spec.bucket}: imported ${localOnly.length} row(s) of this node's database into the cluster`);
    }
    this.replica.markJoined(spec.bucket);
  }
}
