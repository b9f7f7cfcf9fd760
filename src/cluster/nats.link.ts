/**
 * The node's connection to NATS, as a small port (and Nest token): what the cluster's services need from NATS and
 * nothing more, so they are unit-tested on MemoryNatsLink (memory/memory-nats.link.ts) and run on NatsJsLink
 * (nats-js.link.ts, the nats.js client). Core NATS (publish/subscribe/request: at most once, no storage) carries
 * events and commands; JetStream KV buckets (replicated, acknowledged writes, a TTL per bucket) carry membership and
 * leases.
 *
 * The connection never delivers a message this same connection published (nats.js `noEcho`): a node handles its own
 * events and commands locally, before they reach NATS.
 */

export type Unsubscribe = () => void;

/** `connected`: messages flow. `disconnected`: the client is reconnecting (publishes are not sent). `closed`: for good. */
export type LinkStatus = 'connected' | 'disconnected' | 'closed';

export interface LinkMessage {
  subject: string;
  data: Uint8Array;
  /** The inbox of a request (answer with `link.publish(msg.reply, data)`), absent for a plain publish. */
  reply?: string;
}

export interface KvEntry {
  key: string;
  value: Uint8Array;
  /** The bucket's sequence number of this write: pass it to update() for a compare-and-set. */
  revision: number;
}

/** A change seen by watch(): a put (value set) or a delete (value null). TTL expiry is not announced by NATS 2.9. */
export interface KvChange {
  key: string;
  value: Uint8Array | null;
  revision: number;
}

/** A KV write refused because the key exists (create) or moved on (update): someone else won. */
export class KvConflictError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`${bucket}/${key} was written by someone else`);
  }
}

/**
 * A JetStream KV bucket. Every write resolves once JetStream stored it (on NATS_REPLICAS servers). Keys are NATS subject
 * tokens: letters, digits, `-`, `_`, `=`, `.` separated (callers encode ids they do not control).
 */
export interface KvBucket {
  readonly name: string;
  put(key: string, value: Uint8Array): Promise<number>;
  /** Writes only when the key has no live value (never written, deleted, or expired): a claim. KvConflictError otherwise. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only when the key's last revision is `revision` (compare-and-set). KvConflictError otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** The live value, or null (never written, deleted or expired). */
  get(key: string): Promise<KvEntry | null>;
  delete(key: string): Promise<void>;
  /** Every live key. */
  keys(): Promise<string[]>;
  /**
   * Calls `onChange` with every live entry, then with each later put/delete, in revision order, until unsubscribed;
   * resumes by itself after a reconnect. Resolves once the watch is set up (the current entries follow right after).
   */
  watch(onChange: (change: KvChange) => void): Promise<Unsubscribe>;
}

export interface KvBucketOptions {
  /** Entries older than this disappear (JetStream max_age); 0 or unset = kept until deleted. */
  ttlMs?: number;
  /** Values kept per key (1 = latest only). */
  history?: number;
}

/**
 * A JetStream Object Store bucket (large values in chunks: crops, head weights). Writes resolve once JetStream stored
 * every chunk (on NATS_REPLICAS servers). Names are any text (the store encodes them).
 */
export interface ObjectBucket {
  readonly name: string;
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(name: string): Promise<Uint8Array | null>;
  /** Nothing there is fine. */
  delete(name: string): Promise<void>;
  /** Every live object's name. */
  list(): Promise<string[]>;
}

export abstract class NatsLink {
  /** The servers it was given, credentials removed (for logs and errors). */
  abstract readonly servers: string;

  abstract status(): LinkStatus;
  /** Called on each change of status(). */
  abstract onStatus(listener: (status: LinkStatus) => void): Unsubscribe;

  /**
   * Sends `data` on `subject` (at most once; nobody listening = nothing happens). Call it only while status() is
   * `connected`: the nats.js client would otherwise queue without a bound (callers keep their own bounded buffer).
   * Throws when the link is closed or the subject is invalid.
   */
  abstract publish(subject: string, data: Uint8Array): void;
  /** Delivers messages on `subject` (wildcards `*` and `>` allowed); with `queue`, one member of the group gets each. */
  abstract subscribe(subject: string, onMessage: (msg: LinkMessage) => void, opts?: { queue?: string }): Unsubscribe;
  /** Request/reply: resolves with the first answer; rejects after `timeoutMs` or at once when nobody listens. */
  abstract request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;

  /** Creates the bucket if missing (replicas = the link's NATS_REPLICAS), else opens it. */
  abstract kv(bucket: string, opts?: KvBucketOptions): Promise<KvBucket>;

  /** Creates the object store bucket if missing (replicas = the link's NATS_REPLICAS), else opens it. */
  abstract objectStore(bucket: string): Promise<ObjectBucket>;

  /** Flushes what was published and closes; status() becomes `closed`. */
  abstract close(): Promise<void>;
}
