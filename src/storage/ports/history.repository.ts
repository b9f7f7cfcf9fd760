import type { HistoryRowView } from '../../contracts/history';
import type { LabelName, ScoresByLabel } from '../../contracts/labels';

/**
 * One track of one camera over one interval of HISTORY_RESOLUTION_MS (docs/HISTORY.md): stored exactly as the API shows
 * it, so the row type is the contract's (one definition).
 */
export type HistoryRecord = HistoryRowView;

/** Which rows: a half-open time range [from, to) of interval starts, optionally one camera and/or one user. */
export interface HistoryFilter {
  from: number;
  to: number;
  cameraId?: string;
  userId?: string;
}

/** One bucket of `bucketMs`, aggregated by the store (GROUP BY), never by the caller over raw rows. */
export interface HistoryBucket {
  ts: number;
  scores: ScoresByLabel;
  rows: number;
  tracks: number;
  faces: number;
}

/** Rows per (camera, user, dominant label) in a range: what the label shares are computed from. */
export interface HistoryLabelCount {
  cameraId: string;
  userId: string | null;
  label: LabelName;
  rows: number;
}

/**
 * Port (and Nest token) for the expression history; StorageModule binds it to SqliteHistoryRepository. Deletions take
 * a `limit` so callers delete in small batches between which the event loop serves the pipeline.
 */
export abstract class HistoryRepository {
  /** All in one transaction. */
  abstract insertMany(rows: readonly HistoryRecord[]): void;
  /** Rows in interval order (ts, camera, track), read lazily: the caller streams them without holding them all. */
  abstract iterate(filter: HistoryFilter): IterableIterator<HistoryRecord>;
  /** Buckets with at least one row, in time order. */
  abstract buckets(filter: HistoryFilter, bucketMs: number): HistoryBucket[];
  /** Buckets lazily (for a streamed export). */
  abstract iterateBuckets(filter: HistoryFilter, bucketMs: number): IterableIterator<HistoryBucket>;
  abstract labelCounts(filter: HistoryFilter): HistoryLabelCount[];
  /** Whether any row names this camera (a removed camera's history can still be queried). */
  abstract hasCamera(cameraId: string): boolean;
  /** Deletes up to `limit` rows matching; returns how many. */
  abstract deleteRange(filter: HistoryFilter, limit: number): number;
  abstract deleteUser(userId: string, limit: number): number;
  /** Rows whose interval started before `ts` (retention). */
  abstract deleteBefore(ts: number, limit: number): number;
  /** Users named by rows that no longer exist (a crash between a user's deletion and their history's). */
  abstract orphanUsers(): string[];
}
