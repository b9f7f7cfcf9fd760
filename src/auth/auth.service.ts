import { Inject, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { merge, Observable } from 'rxjs';
import { CONFIG, Config } from '../config';
import type { Scope } from '../contracts/scopes';
import { DataVersionWatcher } from '../storage/data-version.watcher';
import { isLoopbackHost } from './binding';
import { safeEqual } from './token';
import { TokenStore } from './token.store';

export interface Principal {
  scope: Scope;
  /** Who: "env:admin", "env:read", a stored token's name, or "open" (no token configured, loopback client). */
  name: string;
  /** The stored token's id, for a stored token: what revocation is checked against on open sockets. */
  tokenId?: string;
}

const OPEN_PRINCIPAL = 'open';

/** Where a request presented its token, if anywhere. */
export type Credential = { token: string } | { token: null };

@Injectable()
export class AuthService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TokenStore) private readonly tokens: TokenStore,
    @Inject(DataVersionWatcher) private readonly dataVersion: DataVersionWatcher,
  ) {}

  /**
   * Stored tokens may have changed: created or revoked in this process, or by another process (the token CLI) on the
   * same database. Holders of long-lived principals (WebSockets) re-check them with stillValid(). REST needs no
   * such signal: verify() reads the store on every request (nothing is cached).
   */
  changes$(): Observable<void> {
    return merge(this.tokens.changes$, this.dataVersion.changes$);
  }

  /**
   * Whether a principal granted earlier still holds: a stored token not revoked since, an open-server principal
   * while no token exists. Environment tokens cannot be revoked (only a restart without them ends them).
   */
  stillValid(principal: Principal): boolean {
    if (principal.tokenId !== undefined) return this.tokens.exists(principal.tokenId);
    if (principal.name === OPEN_PRINCIPAL) return this.isOpen();
    return true;
  }

  /** No token anywhere: the server is open to loopback clients (checkBinding keeps it on loopback). */
  isOpen(): boolean {
    return !this.config.ADMIN_TOKEN && !this.config.READ_TOKEN && this.tokens.count() === 0;
  }

  verify(token: string): Principal | null {
    // Compare against both env tokens every time, so timing does not tell which one is set.
    const admin = this.config.ADMIN_TOKEN !== undefined && safeEqual(token, this.config.ADMIN_TOKEN);
    const read = this.config.READ_TOKEN !== undefined && safeEqual(token, this.config.READ_TOKEN);
    if (admin) return { scope: 'admin', name: 'env:admin' };
    if (read) return { scope: 'read', name: 'env:read' };
    const stored = this.tokens.find(token);
    return stored ? { scope: stored.scope, name: stored.name, tokenId: stored.id } : null;
  }

  /** The principal for an open server, when this client may have it (loopback only). */
  openPrincipal(remoteAddress: string | undefined): Principal | null {
    if (!this.isOpen()) return null;
    return remoteAddress !== undefined && isLoopbackHost(remoteAddress) ? { scope: 'admin', name: OPEN_PRINCIPAL } : null;
  }

  /** `Authorization: Bearer <token>`. */
  static bearerFrom(headers: IncomingHttpHeaders): string | null {
    const h = headers.authorization;
    if (typeof h !== 'string') return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : null;
  }

  /** `Sec-WebSocket-Protocol: iex.v1, bearer.<token>` (browsers cannot set headers on a WebSocket). */
  static subprotocolTokenFrom(headers: IncomingHttpHeaders): string | null {
    const h = headers['sec-websocket-protocol'];
    if (typeof h !== 'string') return null;
    for (const p of h.split(',')) {
      const t = p.trim();
      if (t.startsWith('bearer.') && t.length > 'bearer.'.length) return t.slice('bearer.'.length);
    }
    return null;
  }
}
