import { Inject, Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database';
import { SampleRecord, SampleRepository } from '../ports/sample.repository';

interface Row {
  id: string;
  user_id: string;
  label: string;
  file: string;
  source: string;
  sha1: string;
  created_at: number;
}

const toRecord = (r: Row): SampleRecord => ({
  id: r.id,
  userId: r.user_id,
  label: r.label,
  file: r.file,
  source: r.source,
  sha1: r.sha1,
  createdAt: r.created_at,
});

/** The `samples` table (migration 0). A row is inserted only after its crop file is durable (see the sample store). */
@Injectable()
export class SqliteSampleRepository implements SampleRepository {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  insert(s: SampleRecord): void {
    this.database.db
      .prepare(
        `INSERT INTO samples (id, user_id, label, file, source, sha1, created_at)
         VALUES (@id, @userId, @label, @file, @source, @sha1, @createdAt)`,
      )
      .run(s);
  }

  listByUser(userId: string): SampleRecord[] {
    return (this.database.db.prepare('SELECT * FROM samples WHERE user_id = ? ORDER BY created_at, id').all(userId) as Row[]).map(toRecord);
  }

  countsByUser(userId: string): Record<string, number> {
    const rows = this.database.db.prepare('SELECT label, COUNT(*) AS n FROM samples WHERE user_id = ? GROUP BY label').all(userId) as {
      label: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.label, r.n]));
  }

  hasSha1(userId: string, sha1: string): boolean {
    return this.database.db.prepare('SELECT 1 FROM samples WHERE user_id = ? AND sha1 = ? LIMIT 1').get(userId, sha1) !== undefined;
  }

  delete(id: string): boolean {
    return this.database.db.prepare('DELETE FROM samples WHERE id = ?').run(id).changes === 1;
  }
}
