/** Parses ALLOWED_ORIGINS (comma-separated) into normalized origins; "*" allows any. */
export function parseAllowedOrigins(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s === '*' || s === 'null' ? s : normalizeOrigin(s) ?? s));
}

function normalizeOrigin(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.origin === 'null' ? null : u.origin.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Browser WebSocket connections carry an Origin; accept it when it is this server (same host as the request's Host
 * header) or listed. No Origin at all means a non-browser client (ws, curl), which a web page cannot impersonate.
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, allowed: string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  if (origin === 'null') return allowed.includes('null');
  const normalized = normalizeOrigin(origin);
  if (normalized === null) return false;
  if (host && new URL(normalized).host === host.toLowerCase()) return true;
  return allowed.includes(normalized);
}
