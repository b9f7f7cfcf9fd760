import { describe, expect, it } from 'vitest';
import { hostnameOf, hostPolicy, isHostAllowed, isWildcardAddress } from './host-policy';

describe('host policy', () => {
  const loopback = hostPolicy('127.0.0.1', '');

  it('accepts loopback names with or without a port, and an absent Host', () => {
    for (const h of ['localhost', 'localhost:3000', 'LOCALHOST:1', '127.0.0.1', '127.0.0.1:3000', '[::1]', '[::1]:3000', 'localhost.:80']) {
      expect(isHostAllowed(h, loopback), h).toBe(true);
    }
    expect(isHostAllowed(undefined, loopback)).toBe(true);
  });

  it('refuses other names (DNS rebinding), other IPs, and values that only contain a loopback name', () => {
    for (const h of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '192.168.1.5:3000', 'evil@127.0.0.1', '127.0.0.1/x', '', ' ', 'a b']) {
      expect(isHostAllowed(h, loopback), h).toBe(false);
    }
  });

  it('accepts the bound address and ALLOWED_HOSTS names, case-insensitively, any port', () => {
    const p = hostPolicy('192.168.1.5', 'cams.example.org, Other.Example:8080');
    for (const h of ['192.168.1.5', '192.168.1.5:3000', 'CAMS.example.org:443', 'other.example', 'localhost:3000']) expect(isHostAllowed(h, p), h).toBe(true);
    for (const h of ['192.168.1.6:3000', 'evil.example']) expect(isHostAllowed(h, p), h).toBe(false);
    expect(isHostAllowed('[fe80::1]:3000', hostPolicy('fe80::1', ''))).toBe(true);
  });

  it('bound to a wildcard: any IP literal (cannot be rebound), names only from ALLOWED_HOSTS', () => {
    for (const bind of ['0.0.0.0', '::', '[::]']) {
      expect(isWildcardAddress(bind), bind).toBe(true);
      const p = hostPolicy(bind, 'box.lan');
      for (const h of ['10.0.0.7:3000', '[2001:db8::1]:3000', 'box.lan:3000', 'localhost']) expect(isHostAllowed(h, p), `${bind} ${h}`).toBe(true);
      for (const h of ['evil.example:3000', '0.0.0.0.evil.example']) expect(isHostAllowed(h, p), `${bind} ${h}`).toBe(false);
      expect(p.names.has('0.0.0.0')).toBe(false);
    }
    expect(isWildcardAddress('127.0.0.1')).toBe(false);
  });

  it('ALLOWED_HOSTS=* accepts any Host', () => {
    expect(isHostAllowed('evil.example:3000', hostPolicy('127.0.0.1', '*'))).toBe(true);
  });

  it('hostnameOf normalizes and rejects non-hosts', () => {
    expect(hostnameOf('[::1]:80')).toBe('::1');
    expect(hostnameOf('Example.ORG.')).toBe('example.org');
    expect(hostnameOf('user@host')).toBeNull();
    expect(hostnameOf('host/path')).toBeNull();
    expect(hostnameOf('host:99999')).toBeNull();
  });
});
