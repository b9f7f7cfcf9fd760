import type { Scope } from '../../contracts/scopes';

/** A stored API token: only its hash, never the token itself. */
export interface TokenRecord {
  id: string;
  name: string;
  scope: Scope;
  /** hashToken(token), hex */
  hash: string;
  createdAt: number;
}

/**
 * Port (and Nest token) for stored API tokens; StorageModule binds it to SqliteTokenRepository. Hashing and checks
 * stay in auth/TokenStore. Synchronous for now: a replicated store will need Promise returns (the next step,
 * docs/ARCHITECTURE.md "Storage ports").
 */
export abstract class TokenRepository {
  abstract insert(t: TokenRecord): void;
  /** Oldest first (created_at, then id), without the hashes. */
  abstract list(): Omit<TokenRecord, 'hash'>[];
  /** Removes the tokens whose id or name is `idOrName`; returns how many. */
  abstract deleteByIdOrName(idOrName: string): number;
  abstract exists(id: string): boolean;
  abstract count(): number;
  abstract findByHash(hash: string): TokenRecord | undefined;
}
