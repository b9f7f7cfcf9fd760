import { isIP } from 'node:net';

/** Thrown when the server would listen on a non-loopback address with no token configured. */
export class UnsafeBindingError extends Error {
  override readonly name = 'UnsafeBindingError';
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export interface BindingCheck {
  host: string;
  /** Any of ADMIN_TOKEN / READ_TOKEN set. */
  envTokens: boolean;
  storedTokens: number;
}

/**
 * The safe default: with no token anywhere, the server is open to whoever can reach it, so it may only listen on
 * loopback. Returns the line to log at startup; throws UnsafeBindingError (with the fix) otherwise.
 */
export function checkBinding({ host, envTokens, storedTokens }: BindingCheck): string {
  if (envTokens || storedTokens > 0) {
    return `authentication on: ${envTokens ? 'token(s) from the environment' : ''}${envTokens && storedTokens ? ' + ' : ''}${storedTokens ? `${storedTokens} stored token(s)` : ''}`;
  }
  if (isLoopbackHost(host)) {
    return `no token configured: open to local clients only (listening on loopback ${host}); set ADMIN_TOKEN or run "npm run token -- create --scope admin" before listening elsewhere`;
  }
  throw new UnsafeBindingError(
    `refusing to listen on ${host} without authentication: anyone on the network could watch the cameras. ` +
      `Set ADMIN_TOKEN (and READ_TOKEN) or create one with "npm run token -- create --scope admin", or use HOST=127.0.0.1.`,
  );
}
