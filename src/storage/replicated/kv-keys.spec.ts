import { describe, expect, it } from 'vitest';
import { BadKvKeyError, decodeKey, encodeKey, escapeKeyPart, unescapeKeyPart } from './kv-keys';

describe('KV key escaping', () => {
  it('keeps subject-safe ids as they are', () => {
    expect(escapeKeyPart('ana-01_X')).toBe('ana-01_X');
  });

  it('escapes dots, wildcards, spaces, = and non-ASCII so that one id is one valid subject token', () => {
    for (const id of ['a.b', 'a*b', 'a>b', 'a b', 'x=y', 'Zoë', '日本', '/..', '']) {
      const token = escapeKeyPart(id);
      expect(token).toMatch(/^[-_=A-Za-z0-9]+$/);
      expect(unescapeKeyPart(token)).toBe(id);
    }
    expect(escapeKeyPart('a.b')).toBe('a=2Eb');
    expect(escapeKeyPart('=')).toBe('=3D');
    expect(escapeKeyPart('')).toBe('=');
  });

  it('never maps two ids to one key', () => {
    const ids = ['', '=', '=3D', 'a.b', 'a=2Eb', 'a', 'A', 'é', '=C3=A9'];
    expect(new Set(ids.map(escapeKeyPart)).size).toBe(ids.length);
  });

  it('joins composite keys with dots and splits them back', () => {
    const key = encodeKey(['ana.b', 3]);
    expect(key).toBe('ana=2Eb.3');
    expect(decodeKey(key)).toEqual(['ana.b', '3']);
  });

  it('refuses tokens it never produced', () => {
    expect(() => unescapeKeyPart('a=2')).toThrow(BadKvKeyError);
    expect(() => unescapeKeyPart('a=zz')).toThrow(BadKvKeyError);
    expect(() => unescapeKeyPart('a b')).toThrow(BadKvKeyError);
  });
});
