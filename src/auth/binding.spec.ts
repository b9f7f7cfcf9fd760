import { describe, expect, it } from 'vitest';
import { checkBinding, isLoopbackHost, UnsafeBindingError } from './binding';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST'])('%s is loopback', (h) =>
    expect(isLoopbackHost(h)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '192.168.1.4', '10.0.0.1', 'example.com', '128.0.0.1', '127.0.0.1.nip.io', ''])('%s is not', (h) =>
    expect(isLoopbackHost(h)).toBe(false),
  );
});

describe('checkBinding', () => {
  it('no token on loopback: allowed, and says so', () => {
    expect(checkBinding({ host: '127.0.0.1', envTokens: false, storedTokens: 0 })).toMatch(/no token configured.*loopback/);
  });
  it('no token on another address: refuses with the fix', () => {
    expect(() => checkBinding({ host: '0.0.0.0', envTokens: false, storedTokens: 0 })).toThrow(UnsafeBindingError);
    expect(() => checkBinding({ host: '0.0.0.0', envTokens: false, storedTokens: 0 })).toThrow(/ADMIN_TOKEN/);
  });
  it('any token (env or stored) allows any address', () => {
    expect(checkBinding({ host: '0.0.0.0', envTokens: true, storedTokens: 0 })).toMatch(/authentication on/);
    expect(checkBinding({ host: '::', envTokens: false, storedTokens: 2 })).toMatch(/2 stored/);
  });
});
