import { Inject, Injectable } from '@nestjs/common';
import type { FinetuneMetrics } from '../../contracts/personalization';
import { SqliteDatabase } from '../database';
import { ModelRecord, ModelRepository } from '../ports/model.repository';

interface Row {
  user_id: string;
  version: number;
  file: string;
  sha256: string;
  metrics: string;
  created_at: number;
  trunk_sha256: string;
}

const toRecord = (r: Row): ModelRecord => ({
  userId: r.user_id,
  version: r.version,
  file: r.file,
  sha256: r.sha256,
  metrics: JSON.parse(r.metrics) as FinetuneMetrics,
  createdAt: r.created_at,
  trunkSha256: r.trunk_sha256,
});

/** The `models` table plus users.active_version (migration 0; trunk_sha256: the migration of issue 17). */
@Injectable()
export class SqliteModelRepository implements ModelRepository {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  nextVersion(userId: string): number {
    const r = this.database.db.prepare('SELECT MAX(version) AS v FROM models WHERE user_id = ?').get(userId) as { v: number | null };
    return (r.v ?? 0) + 1;
  }

  /** Insert a version and, if asked, make it the user's active one: one transaction, both or neither. */
  insert(m: ModelRecord, activate: boolean): void {
    const db = this.database.db;
    db.transaction(() => {
      db.prepare(
        `INSERT INTO models (user_id, version, file, sha256, metrics, created_at, trunk_sha256)
         VALUES (@userId, @version, @file, @sha256, @metrics, @createdAt, @trunkSha256)`,
      ).run({ ...m, metrics: JSON.stringify(m.metrics), trunkSha256: m.trunkSha256 ?? '' });
      if (activate) db.prepare('UPDATE users SET active_version = ? WHERE id = ?').run(m.version, m.userId);
    })();
  }

  get(userId: string, version: number): ModelRecord | undefined {
    const row = this.database.db.prepare('SELECT * FROM models WHERE user_id = ? AND version = ?').get(userId, version) as Row | undefined;
    return row && toRecord(row);
  }

  list(userId: string): ModelRecord[] {
    return (this.database.db.prepare('SELECT * FROM models WHERE user_id = ? ORDER BY version').all(userId) as Row[]).map(toRecord);
  }

  /** Every stored file path (relative to DATA_DIR), for the start-up sweep of orphaned files. */
  allFiles(): Set<string> {
    return new Set((this.database.db.prepare('SELECT file FROM models').all() as { file: string }[]).map((r) => r.file));
  }

  activeVersion(userId: string): number | null | undefined {
    const r = this.database.db.prepare('SELECT active_version AS v FROM users WHERE id = ?').get(userId) as { v: number | null } | undefined;
    return r === undefined ? undefined : r.v;
  }

  /** null = back to the general model. The version must exist (checked in the same transaction). */
  setActive(userId: string, version: number | null): boolean {
    const db = this.database.db;
    return db.transaction(() => {
      if (version !== null && !db.prepare('SELECT 1 FROM models WHERE user_id = ? AND version = ?').get(userId, version)) return false;
      return db.prepare('UPDATE users SET active_version = ? WHERE id = ?').run(version, userId).changes === 1;
    })();
  }
}
