/**
 * Port (and Nest token) for "a change is acknowledged only once it is stored where it must be". The edge runs each
 * REST request and each WebSocket command inside run(): the answer leaves only after every write the handler made is
 * stored. One node on its own (no NATS_URL): SQLite stored it before the handler returned, so run() is just fn().
 * Clustered: the writes are also in JetStream (storage/replicated/pending-writes.ts); when JetStream did not store one,
 * run() rejects with CodedError 'unavailable' (HTTP 503) and the local change is undone.
 */
export abstract class WriteAcknowledgement {
  abstract run<T>(fn: () => Promise<T>): Promise<T>;
}

/** A single node: SQLite's commit is the acknowledgement. */
export class LocalWriteAcknowledgement extends WriteAcknowledgement {
  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}
