import { isIP } from 'node:net';
import { isLoopbackHost } from '../auth/binding';

/**
 * Which `Host` header values the server answers (DNS rebinding defence). A page on `http://evil.example:PORT` whose
 * name the attacker re-points at 127.0.0.1 reaches this server as same-origin, but its requests still carry
 * `Host: evil.example:PORT`: refusing unknown names closes that path. Ports are not compared (a relay or a port
 * forward changes them; the name is what an attacker controls).
 */
export interface HostPolicy {
  /** ALLOWED_HOSTS contains `*`: every host (e.g. behind a proxy that checks Host itself). */
  readonly any: boolean;
  /** Host names (lower case, no port, IPv6 without brackets) accepted besides loopback. */
  readonly names: ReadonlySet<string>;
  /**
   * Bound to a wildcard address: any IP literal is accepted too. An IP literal cannot be re-pointed by DNS, so it is
   * no rebinding risk, and the machine's interface list would miss the addresses clients really use behind NAT or a
   * port forward (Docker's `-p`). Names still need ALLOWED_HOSTS.
   */
  readonly ipLiterals: boolean;
}

export function isWildcardAddress(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0') return true;
  return isIP(h) === 6 && /^[0:]+$/.test(h);
}

/** `bindHost` is HOST (the address the server listens on); `allowedHosts` is ALLOWED_HOSTS, comma-separated. */
export function hostPolicy(bindHost: string, allowedHosts: string): HostPolicy {
  const entries = allowedHosts
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const names = new Set<string>();
  for (const entry of [bindHost, ...entries]) {
    if (entry === '*') continue;
    // HOST may be a bare IPv6 address (`fe80::1`), which is not a valid Host value without brackets.
    const name = hostnameOf(isIP(entry) === 6 ? `[${entry}]` : entry);
    if (name !== null && !isWildcardAddress(name)) names.add(name);
  }
  return { any: entries.includes('*'), names, ipLiterals: isWildcardAddress(bindHost) };
}

/**
 * The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), lower case, IPv6 without brackets, no
 * trailing dot; null for anything that is not a bare host[:port] (userinfo, a path: `evil@127.0.0.1` is not
 * 127.0.0.1).
 */
export function hostnameOf(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(`http://${raw.trim()}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || /[/?#@\\]/.test(raw)) return null;
  const name = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return name || null;
}

/**
 * An absent Host is allowed: browsers always send one (HTTP/1.1 requires it), so its absence is a non-browser
 * client such as an HTTP/1.0 health probe, which DNS rebinding cannot produce.
 */
export function isHostAllowed(host: string | undefined, policy: HostPolicy): boolean {
  if (host === undefined) return true;
  if (policy.any) return true;
  const name = hostnameOf(host);
  if (name === null) return false;
  if (isLoopbackHost(name) || policy.names.has(name)) return true;
  return policy.ipLiterals && isIP(name) !== 0;
}
