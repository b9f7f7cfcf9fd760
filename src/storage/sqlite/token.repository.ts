import { Inject, Injectable } from '@nestjs/common';
import type { Scope } from '../../contracts/scopes';
import { SqliteDatabase } from '../database';
import { TokenRecord, TokenRepository } from '../ports/token.repository';

interface TokenRow {
  id: string;
  name: string;
  scope: Scope;
  hash: string;
  created_at: number;
}

/** The `tokens` table (migration 0): hashes only. Commits here are seen by other processes' DataVersionWatcher. */
@Injectable()
export class SqliteTokenRepository implements TokenRepository {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  insert(t: TokenRecord): void {
    this.database.db
      .prepare('INSERT INTO tokens (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(t.id, t.name, t.scope, t.hash, t.createdAt);
  }

  list(): Omit<TokenRecord, 'hash'>[] {
    const rows = this.database.db
      .prepare('SELECT id, name, scope, created_at FROM tokens ORDER BY created_at, id')
      .all() as Omit<TokenRow, 'hash'>[];
    return rows.map((r) => ({ id: r.id, name: r.name, scope: r.scope, createdAt: r.created_at }));
  }

  deleteByIdOrName(idOrName: string): number {
    return this.database.db.prepare('DELETE FROM tokens WHERE id = ? OR name = ?').run(idOrName, idOrName).changes;
  }

  exists(id: string): boolean {
    return this.database.db.prepare('SELECT 1 FROM tokens WHERE id = ?').get(id) !== undefined;
  }

  count(): number {
    return (this.database.db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  }

  findByHash(hash: string): TokenRecord | undefined {
    const row = this.database.db.prepare('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    return row && { id: row.id, name: row.name, scope: row.scope, hash: row.hash, createdAt: row.created_at };
  }
}
