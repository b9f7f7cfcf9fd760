import { BlobNotFoundError, blobKeySegments, BlobStore } from '../ports/blob.store';
import { ReplicationUnavailableError } from './pending-writes';

/** A JetStream Object Store bucket, as the blob store uses it (cluster/nats-object.store.ts implements it). */
export interface ReplicaObjects {
  /** Resolves once JetStream stored every chunk and the object's info (on NATS_REPLICAS servers). */
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** null when there is no such object. */
  get(name: string): Promise<Uint8Array | null>;
  delete(name: string): Promise<void>;
  /** Every live object's name. */
  list(): Promise<string[]>;
}

/** The object store bucket of the cluster's blobs. */
export const BLOBS_BUCKET = 'iex-blobs';

/**
 * Tries of an object-store read (get, list) before it fails. Why more than one: while one NATS server of three is down,
 * nats-server 2.9 leaves about one consumer creation in three unanswered (docs/CLUSTER.md "Known gaps"), and every
 * read opens one; a new try is placed anew. Reads are idempotent, so trying again is safe.
 */
export const OBJECT_READ_TRIES = 3;

/**
 * BlobStore of a clustered node: the data-dir store is this node's copy (and cache), the `iex-blobs` Object Store is
 * the cluster's. put = local, then the object store (awaited: the owner inserts the row that makes the blob visible
 * only after put resolved, so a row on any node names a blob the cluster holds); get = local, else fetched from the
 * object store and cached; remove = both. list() is local only: it is what the owners' start-up sweeps remove orphans
 * from, and another node's blob whose row is on its way is not an orphan.
 */
export class ReplicatedBlobStore extends BlobStore {
  constructor(
    private readonly local: BlobStore,
    private readonly objects: ReplicaObjects,
  ) {
    super();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    blobKeySegments(key);
    await this.local.put(key, bytes);
    try {
      await this.objects.put(key, bytes);
    } catch (e) {
      await this.local.remove(key).catch(() => {});
      throw new ReplicationUnavailableError(`blob ${key}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await this.local.get(key);
    } catch (e) {
      if (!(e instanceof BlobNotFoundError)) throw e;
    }
    let bytes: Uint8Array | null;
    try {
      bytes = await reading(() => this.objects.get(key));
    } catch (e) {
      throw new ReplicationUnavailableError(`blob ${key}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (bytes === null) throw new BlobNotFoundError(key);
    const copy = new Uint8Array(bytes); // a plain Uint8Array, as the local store answers (the client may hand a Buffer)
    await this.local.put(key, copy);
    return copy;
  }

  async remove(key: string): Promise<void> {
    blobKeySegments(key);
    await this.local.remove(key);
    let names: string[];
    try {
      names = (await reading(() => this.objects.list())).filter((n) => n === key || n.startsWith(`${key}/`));
      for (const n of names) await this.objects.delete(n);
    } catch (e) {
      throw new ReplicationUnavailableError(`blob ${key}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.local.list(prefix);
  }

  /**
   * Uploads this node's blobs under `prefixes` that the object store lacks (unfinished `.tmp` entries excepted): what
   * a single node's DATA_DIR brings when it becomes a cluster's first node. Returns how many.
   */
  async importLocal(prefixes: readonly string[]): Promise<number> {
    const remote = new Set(await reading(() => this.objects.list()));
    let n = 0;
    for (const prefix of prefixes) {
      for (const key of await this.local.list(prefix)) {
        if (remote.has(key) || key.endsWith('.tmp')) continue;
        await this.objects.put(key, await this.local.get(key));
        n++;
      }
    }
    return n;
  }
}

/** `read` until it resolves, at most OBJECT_READ_TRIES times; the last failure is thrown. */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (attempt >= OBJECT_READ_TRIES) throw e;
    }
  }
}
