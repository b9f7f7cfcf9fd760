import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import type { Scope } from '../contracts/scopes';
import { TokenRepository } from '../storage/ports/token.repository';
import { generateToken, hashToken, safeEqual } from './token';

export interface TokenInfo {
  id: string;
  name: string;
  scope: Scope;
  createdAt: number;
}

/**
 * Tokens created with `npm run token -- create`: only their hash is stored; the token is shown once. Storage is the
 * TokenRepository port (SQLite in StorageModule; `new TokenStore(new SqliteTokenRepository(db))` in the CLI).
 */
@Injectable()
export class TokenStore {
  private readonly changed = new Subject<void>();
  /**
   * Tokens created or revoked through THIS store (this process, this connection). Another process's changes (the
   * CLI) are seen through DataVersionWatcher instead: SQLite's data_version ignores a connection's own commits.
   */
  readonly changes$: Observable<void> = this.changed.asObservable();

  constructor(@Inject(TokenRepository) private readonly tokens: TokenRepository) {}

  create(scope: Scope, name?: string): TokenInfo & { token: string } {
    if (scope !== 'read' && scope !== 'admin') throw new Error(`scope must be read or admin, not "${String(scope)}"`);
    const id = randomBytes(6).toString('hex');
    const token = generateToken();
    const info: TokenInfo = { id, name: name?.trim() || `token-${id}`, scope, createdAt: Date.now() };
    this.tokens.insert({ ...info, hash: hashToken(token) });
    this.changed.next();
    return { ...info, token };
  }

  list(): TokenInfo[] {
    return this.tokens.list().map((r) => ({ id: r.id, name: r.name, scope: r.scope, createdAt: r.createdAt }));
  }

  /** Removes tokens whose id or name is `idOrName`; returns how many. */
  revoke(idOrName: string): number {
    const n = this.tokens.deleteByIdOrName(idOrName);
    if (n > 0) this.changed.next();
    return n;
  }

  /** Whether the token with this id is still stored (not revoked). */
  exists(id: string): boolean {
    return this.tokens.exists(id);
  }

  count(): number {
    return this.tokens.count();
  }

  /** The stored token matching `token`, or null. */
  find(token: string): TokenInfo | null {
    const hash = hashToken(token);
    const row = this.tokens.findByHash(hash);
    // The lookup is by hash (a preimage, not the token, is what timing could reveal); compare once more in
    // constant time so a future change to the query cannot turn this into a prefix oracle.
    if (!row || !safeEqual(row.hash, hash)) return null;
    return { id: row.id, name: row.name, scope: row.scope, createdAt: row.createdAt };
  }
}
