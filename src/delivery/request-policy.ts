import { isOriginAllowed } from '../auth/origin';

/** Methods that change state: a browser page on another origin must not be able to send them (CSRF). */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface StateChangeRequest {
  method: string;
  /** `Origin` header, if any. */
  origin: string | undefined;
  /** `Sec-Fetch-Site` header, if any (browsers send it on every request; other clients do not). */
  secFetchSite: string | undefined;
  /** `Host` header, already checked against the host policy (so an attacker cannot choose it). */
  host: string | undefined;
  /** ALLOWED_ORIGINS, parsed (parseAllowedOrigins). */
  allowedOrigins: string[];
}

/**
 * CSRF rule. Safe methods always pass. A state change with an `Origin` must come from this server (same host as
 * the validated Host) or ALLOWED_ORIGINS; without `Origin`, `Sec-Fetch-Site: cross-site | same-site` is refused and
 * `same-origin | none` or no header at all passes: curl, the SDK and supertest send neither header, and a browser
 * page on another site cannot send a request without them. Applies with or without tokens.
 */
export function isStateChangeAllowed(req: StateChangeRequest): boolean {
  if (!STATE_CHANGING.has(req.method.toUpperCase())) return true;
  if (req.origin !== undefined) return isOriginAllowed(req.origin, req.host, req.allowedOrigins);
  const site = req.secFetchSite?.trim().toLowerCase();
  return site !== 'cross-site' && site !== 'same-site';
}

/**
 * Routes that take multipart/form-data (the ones with PhotoUploadInterceptor); every other route takes JSON only.
 * test/e2e-edge.spec.ts checks this list against the controllers' metadata.
 */
export const MULTIPART_ROUTES: readonly RegExp[] = [/^\/api\/users\/[^/]+\/samples\/?$/, /^\/api\/users\/[^/]+\/faces\/?$/];

export interface BodyTypeProblem {
  status: 415;
  message: string;
}

/**
 * JSON bodies only, except multipart on MULTIPART_ROUTES. No urlencoded or text/plain body is ever parsed: those are
 * the types a cross-site HTML form or a `no-cors` fetch can send without a preflight. A request without a body
 * (no Content-Length or 0, no Transfer-Encoding) passes whatever its Content-Type.
 */
export function bodyTypeProblem(path: string, contentType: string | undefined, hasBody: boolean): BodyTypeProblem | null {
  if (!hasBody) return null;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const multipart = MULTIPART_ROUTES.some((r) => r.test(path));
  if (multipart) {
    return type === 'multipart/form-data' ? null : { status: 415, message: 'this route takes multipart/form-data' };
  }
  if (type === 'application/json') return null;
  return { status: 415, message: `send the body as JSON (Content-Type: application/json), not ${type || 'an untyped body'}` };
}
