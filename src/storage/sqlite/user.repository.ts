import { Inject, Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database';
import { UserRecord, UserRepository } from '../ports/user.repository';

interface Row {
  id: string;
  name: string;
  active_version: number | null;
  created_at: number;
}

const toRecord = (r: Row): UserRecord => ({ id: r.id, name: r.name, activeVersion: r.active_version, createdAt: r.created_at });

/** The `users` table (migration 0). Deleting a user cascades to its samples and models rows (foreign keys). */
@Injectable()
export class SqliteUserRepository implements UserRepository {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  insert(u: Omit<UserRecord, 'activeVersion'>): void {
    this.database.db.prepare('INSERT INTO users (id, name, active_version, created_at) VALUES (@id, @name, NULL, @createdAt)').run(u);
  }

  get(id: string): UserRecord | undefined {
    const row = this.database.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  list(): UserRecord[] {
    return (this.database.db.prepare('SELECT * FROM users ORDER BY created_at, id').all() as Row[]).map(toRecord);
  }

  rename(id: string, name: string): boolean {
    return this.database.db.prepare('UPDATE users SET name = ? WHERE id = ?').run(name, id).changes === 1;
  }

  delete(id: string): boolean {
    return this.database.db.prepare('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }
}
