import { describe, expect, it } from 'vitest';
import type { Connection } from './connection';
import { addressKey, ConnectionRegistry } from './connection.registry';

const conn = (remoteAddress: string | undefined) => ({ remoteAddress }) as Connection;

describe('ConnectionRegistry', () => {
  it('counts open connections per client address, IPv4-mapped IPv6 and plain IPv4 as one', () => {
    const r = new ConnectionRegistry();
    const a = conn('127.0.0.1');
    const b = conn('::ffff:127.0.0.1');
    const c = conn('::1');
    for (const x of [a, b, c]) r.add(x);
    r.add(a); // twice: still one
    expect(r.size).toBe(3);
    expect(r.countFrom('127.0.0.1')).toBe(2);
    expect(r.countFrom('::FFFF:127.0.0.1')).toBe(2);
    expect(r.countFrom('::1')).toBe(1);
    expect(r.countFrom('10.0.0.9')).toBe(0);
    r.delete(a);
    r.delete(a); // twice: counted once
    expect(r.countFrom('127.0.0.1')).toBe(1);
    r.delete(b);
    expect(r.countFrom('127.0.0.1')).toBe(0);
    expect(r.size).toBe(1);
  });

  it('keys: IPv6 addresses are kept whole; an unknown address is one bucket', () => {
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:DB8::1')).toBe('2001:db8::1');
    expect(addressKey('::ffff:a00:1')).toBe('::ffff:a00:1');
    expect(addressKey(undefined)).toBe('unknown');
  });
});
