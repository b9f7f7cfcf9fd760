import type { FinetuneMetrics } from '../../contracts/personalization';

export interface ModelRecord {
  userId: string;
  /** 1, 2, ... per user; version 0 is never stored: it names the general model */
  version: number;
  /** key of the weights in the BlobStore, which is also its path relative to DATA_DIR (models/<userId>/<v>.head.f32) */
  file: string;
  sha256: string;
  metrics: FinetuneMetrics;
  createdAt: number;
  /**
   * sha256 of the trunk.onnx the head was trained on (its features are what the head reads): a head is applied only
   * on that trunk (docs/PERSONALIZATION.md, "When the trunk changes"). Rows from before the column existed were all
   * trained on the trunk shipped then, which the migration wrote in. Absent on insert = unknown (stored as ''), which
   * never matches a shipped trunk.
   */
  trunkSha256?: string;
}

/**
 * Port (and Nest token) for a user's model versions and which one is active; StorageModule binds it to
 * SqliteModelRepository. Synchronous for now: a replicated store will need Promise returns (the next step,
 * docs/ARCHITECTURE.md "Storage ports").
 */
export abstract class ModelRepository {
  /** The version the next insert for this user takes (1 for a user without versions). */
  abstract nextVersion(userId: string): number;
  /** Insert a version and, if asked, make it the user's active one: atomically, both or neither. */
  abstract insert(m: ModelRecord, activate: boolean): void;
  abstract get(userId: string, version: number): ModelRecord | undefined;
  /** Oldest version first. */
  abstract list(userId: string): ModelRecord[];
  /** Every stored file key (path relative to DATA_DIR), for the start-up sweep of orphaned files. */
  abstract allFiles(): Set<string>;
  /** The user's active version; null = the general model; undefined = no such user. */
  abstract activeVersion(userId: string): number | null | undefined;
  /** null = back to the general model. false when the user or (for a number) the version does not exist. */
  abstract setActive(userId: string, version: number | null): boolean;
}
