import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import type { Scope } from '../contracts/scopes';
import { SqliteDatabase } from '../storage/database';
import { generateToken, hashToken, safeEqual } from './token';

export interface TokenInfo {
  id: string;
  name: string;
  scope: Scope;
  createdAt: number;
}

interface TokenRow {
  id: string;
  name: string;
  scope: Scope;
  hash: string;
  created_at: number;
}

/** Tokens created with `npm run token -- create`: only their hash is stored; the token is shown once. */
@Injectable()
export class TokenStore {
  private readonly changed = new Subject<void>();
  /**
   * Tokens created or revoked through THIS store (this process, this connection). Another process's changes (the
   * CLI) are seen through DataVersionWatcher instead: SQLite's data_version ignores a connection's own commits.
   */
  readonly changes$: Observable<void> = this.changed.asObservable();

  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  create(scope: Scope, name?: string): TokenInfo & { token: string } {
    if (scope !== 'read' && scope !== 'admin') throw new Error(`scope must be read or admin, not "${String(scope)}"`);
    const id = randomBytes(6).toString('hex');
    const token = generateToken();
    const info: TokenInfo = { id, name: name?.trim() || `token-${id}`, scope, createdAt: Date.now() };
    this.database.db
      .prepare('INSERT INTO tokens (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(info.id, info.name, info.scope, hashToken(token), info.createdAt);
    this.changed.next();
    return { ...info, token };
  }

  list(): TokenInfo[] {
    const rows = this.database.db
      .prepare('SELECT id, name, scope, created_at FROM tokens ORDER BY created_at, id')
      .all() as Omit<TokenRow, 'hash'>[];
    return rows.map((r) => ({ id: r.id, name: r.name, scope: r.scope, createdAt: r.created_at }));
  }

  /** Removes tokens whose id or name is `idOrName`; returns how many. */
  revoke(idOrName: string): number {
    const n = this.database.db.prepare('DELETE FROM tokens WHERE id = ? OR name = ?').run(idOrName, idOrName).changes;
    if (n > 0) this.changed.next();
    return n;
  }

  /** Whether the token with this id is still stored (not revoked). */
  exists(id: string): boolean {
    return this.database.db.prepare('SELECT 1 FROM tokens WHERE id = ?').get(id) !== undefined;
  }

  count(): number {
    return (this.database.db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  }

  /** The stored token matching `token`, or null. */
  find(token: string): TokenInfo | null {
    const hash = hashToken(token);
    const row = this.database.db.prepare('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    // The lookup is by hash (a preimage, not the token, is what timing could reveal); compare once more in
    // constant time so a future change to the query cannot turn this into a prefix oracle.
    if (!row || !safeEqual(row.hash, hash)) return null;
    return { id: row.id, name: row.name, scope: row.scope, createdAt: row.created_at };
  }
}
