export interface SampleRecord {
  id: string;
  userId: string;
  label: string;
  /** key of the crop in the BlobStore, which is also its path relative to DATA_DIR (samples/<userId>/<id>.png) */
  file: string;
  /** 'calibration' | 'upload' | 'browser' */
  source: string;
  sha1: string;
  createdAt: number;
}

/**
 * Port (and Nest token) for sample rows; StorageModule binds it to SqliteSampleRepository. A row is inserted only after
 * its crop is durable in the BlobStore (see SampleStore). Synchronous for now: a replicated store will need Promise
 * returns (the next step, docs/ARCHITECTURE.md "Storage ports").
 */
export abstract class SampleRepository {
  /** Throws when the user does not exist (in SQLite: a FOREIGN KEY error). */
  abstract insert(s: SampleRecord): void;
  /** Oldest first (created_at, then id). */
  abstract listByUser(userId: string): SampleRecord[];
  /** label → number of samples, labels without samples absent. */
  abstract countsByUser(userId: string): Record<string, number>;
  abstract hasSha1(userId: string, sha1: string): boolean;
  /** true when a row was deleted. */
  abstract delete(id: string): boolean;
}
