import { Inject, Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../../contracts/labels';
import { SqliteDatabase } from '../database';
import { HistoryBucket, HistoryFilter, HistoryLabelCount, HistoryRecord, HistoryRepository } from '../ports/history.repository';

interface Row {
  ts: number;
  camera_id: string;
  track_id: number;
  user_id: string | null;
  label: string;
  faces: number;
  frames: number;
  box_x: number;
  box_y: number;
  box_w: number;
  box_h: number;
  [label: string]: number | string | null;
}

type BucketRow = { bucket: number; rows: number; tracks: number; faces: number } & Record<LabelName, number>;

const scoresOf = (r: Record<string, unknown>): ScoresByLabel =>
  Object.fromEntries(LABEL_NAMES.map((l) => [l, r[l] as number])) as ScoresByLabel;

const toRecord = (r: Row): HistoryRecord => ({
  ts: r.ts,
  cameraId: r.camera_id,
  trackId: r.track_id,
  userId: r.user_id,
  label: r.label as LabelName,
  scores: scoresOf(r),
  faces: r.faces,
  frames: r.frames,
  box: { x: r.box_x, y: r.box_y, w: r.box_w, h: r.box_h },
});

const toBucket = (r: BucketRow): HistoryBucket => ({ ts: r.bucket, scores: scoresOf(r), rows: r.rows, tracks: r.tracks, faces: r.faces });

const bucketSql = (whereSql: string) =>
  `SELECT CAST(ts / @bucketMs AS INTEGER) * @bucketMs AS bucket, ${LABEL_NAMES.map((l) => `AVG(${l}) AS ${l}`).join(', ')},
          COUNT(*) AS rows, COUNT(DISTINCT camera_id || '/' || track_id) AS tracks, MAX(faces) AS faces
   FROM history WHERE ${whereSql} GROUP BY bucket ORDER BY bucket`;

/** WHERE clause for a filter; the variant (which optional parts) is also the statement cache key. */
function where(f: HistoryFilter): { key: string; sql: string } {
  const parts = ['ts >= @from', 'ts < @to'];
  if (f.cameraId !== undefined) parts.push('camera_id = @cameraId');
  if (f.userId !== undefined) parts.push('user_id = @userId');
  return { key: `${f.cameraId !== undefined ? 'c' : ''}${f.userId !== undefined ? 'u' : ''}`, sql: parts.join(' AND ') };
}

const params = (f: HistoryFilter, extra: Record<string, number> = {}) => ({
  from: f.from,
  to: f.to,
  ...(f.cameraId !== undefined ? { cameraId: f.cameraId } : {}),
  ...(f.userId !== undefined ? { userId: f.userId } : {}),
  ...extra,
});

/**
 * The `history` table (migration 1). Aggregation is SQL (GROUP BY on the bucket, AVG per label), so a coarse query
 * reads the index range once and returns one row per bucket. Statements are prepared once per filter shape.
 */
@Injectable()
export class SqliteHistoryRepository implements HistoryRepository {
  private readonly statements = new Map<string, Statement>();
  private readonly insert: Statement;

  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {
    this.insert = database.db.prepare(
      `INSERT INTO history (ts, camera_id, track_id, user_id, label, ${LABEL_NAMES.join(', ')}, faces, frames, box_x, box_y, box_w, box_h)
       VALUES (@ts, @cameraId, @trackId, @userId, @label, ${LABEL_NAMES.map((l) => `@${l}`).join(', ')}, @faces, @frames, @x, @y, @w, @h)`,
    );
  }

  insertMany(rows: readonly HistoryRecord[]): void {
    if (rows.length === 0) return;
    // once a second, from memory: not worth an fsync on the event loop (SqliteDatabase.withoutFsync)
    this.database.withoutFsync(() => this.writeRows(rows));
  }

  private writeRows(rows: readonly HistoryRecord[]): void {
    this.database.db.transaction(() => {
      for (const r of rows) {
        this.insert.run({
          ts: r.ts,
          cameraId: r.cameraId,
          trackId: r.trackId,
          userId: r.userId,
          label: r.label,
          ...r.scores,
          faces: r.faces,
          frames: r.frames,
          x: Math.round(r.box.x),
          y: Math.round(r.box.y),
          w: Math.round(r.box.w),
          h: Math.round(r.box.h),
        });
      }
    })();
  }

  *iterate(filter: HistoryFilter): IterableIterator<HistoryRecord> {
    const w = where(filter);
    yield* this.read(`SELECT * FROM history WHERE ${w.sql} ORDER BY ts, camera_id, track_id`, params(filter), toRecord);
  }

  buckets(filter: HistoryFilter, bucketMs: number): HistoryBucket[] {
    return (this.bucketStatement(filter).all(params(filter, { bucketMs })) as BucketRow[]).map(toBucket);
  }

  *iterateBuckets(filter: HistoryFilter, bucketMs: number): IterableIterator<HistoryBucket> {
    yield* this.read(bucketSql(where(filter).sql), params(filter, { bucketMs }), toBucket);
  }

  labelCounts(filter: HistoryFilter): HistoryLabelCount[] {
    const w = where(filter);
    const stmt = this.statement(
      `labels:${w.key}`,
      () => `SELECT camera_id, user_id, label, COUNT(*) AS n FROM history WHERE ${w.sql} GROUP BY camera_id, user_id, label ORDER BY camera_id, user_id, label`,
    );
    return (stmt.all(params(filter)) as { camera_id: string; user_id: string | null; label: string; n: number }[]).map((r) => ({
      cameraId: r.camera_id,
      userId: r.user_id,
      label: r.label as LabelName,
      rows: r.n,
    }));
  }

  hasCamera(cameraId: string): boolean {
    return this.statement('hasCamera', () => 'SELECT 1 FROM history WHERE camera_id = ? LIMIT 1').get(cameraId) !== undefined;
  }

  deleteRange(filter: HistoryFilter, limit: number): number {
    const w = where(filter);
    const stmt = this.statement(`delete:${w.key}`, () => `DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE ${w.sql} LIMIT @limit)`);
    return stmt.run(params(filter, { limit })).changes;
  }

  deleteUser(userId: string, limit: number): number {
    return this.statement('deleteUser', () => 'DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE user_id = ? LIMIT ?)').run(userId, limit)
      .changes;
  }

  deleteBefore(ts: number, limit: number): number {
    return this.statement('deleteBefore', () => 'DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE ts < ? LIMIT ?)').run(ts, limit).changes;
  }

  orphanUsers(): string[] {
    // One index seek per distinct user (history_user_ts), not a scan of every row.
    const next = this.statement('nextUser', () => 'SELECT user_id FROM history WHERE user_id > ? ORDER BY user_id LIMIT 1');
    const exists = this.statement('userExists', () => 'SELECT 1 FROM users WHERE id = ?');
    const orphans: string[] = [];
    let cursor = '';
    for (;;) {
      const row = next.get(cursor) as { user_id: string } | undefined;
      if (!row) return orphans;
      if (exists.get(row.user_id) === undefined) orphans.push(row.user_id);
      cursor = row.user_id;
    }
  }

  private bucketStatement(filter: HistoryFilter): Statement {
    const w = where(filter);
    return this.statement(`buckets:${w.key}`, () => bucketSql(w.sql));
  }

  /**
   * A lazy read on a reader connection of its own (SqliteDatabase.openReader): the main connection stays free for the
   * recorder's writes while a slow client drains an export. Closed when the iteration ends, fails or is returned early.
   */
  private *read<R, T>(sql: string, bound: Record<string, unknown>, map: (row: R) => T): IterableIterator<T> {
    const reader = this.database.openReader();
    try {
      for (const row of reader.prepare(sql).iterate(bound) as IterableIterator<R>) yield map(row);
    } finally {
      reader.close();
    }
  }

  private statement(key: string, sql: () => string): Statement {
    let stmt = this.statements.get(key);
    if (!stmt) {
      stmt = this.database.db.prepare(sql());
      this.statements.set(key, stmt);
    }
    return stmt;
  }
}
