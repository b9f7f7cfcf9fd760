/**
 * Rows of the shared state that another node changed, as this node applies them (port and Nest token). Server-only.
 * Clustered, a cluster event (`model.updated`, `gallery.changed`, …) travels on core NATS and the rows it announces
 * through JetStream KV: the event may arrive first. A service that reloads rows on such an event can also reload when
 * the rows arrive (`table` is the SQLite table, `key` the primary key's values). A single node never emits.
 */
export interface ReplicatedRowChange {
  table: string;
  key: readonly string[];
  /** false: the row was deleted. */
  exists: boolean;
}

export abstract class ReplicatedChanges {
  /** Called after each row another node changed is applied here; returns the unsubscribe. */
  abstract on(listener: (change: ReplicatedRowChange) => void): () => void;
}

/** A single node: nothing is replicated, nothing is announced. */
export class NoReplicatedChanges extends ReplicatedChanges {
  on(): () => void {
    return () => {};
  }
}
