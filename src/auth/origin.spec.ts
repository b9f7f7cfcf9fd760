import { describe, expect, it } from 'vitest';
import { isOriginAllowed, parseAllowedOrigins } from './origin';

describe('origin check', () => {
  const allowed = parseAllowedOrigins(' https://Dash.Example.org , http://localhost:5173,');
  it('parses and normalizes ALLOWED_ORIGINS', () => {
    expect(allowed).toEqual(['https://dash.example.org', 'http://localhost:5173']);
  });
  it('non-browser clients (no Origin) pass', () => expect(isOriginAllowed(undefined, 'h:1', [])).toBe(true));
  it('same host as the request passes', () => {
    expect(isOriginAllowed('http://127.0.0.1:3000', '127.0.0.1:3000', [])).toBe(true);
    expect(isOriginAllowed('http://127.0.0.1:3001', '127.0.0.1:3000', [])).toBe(false);
  });
  it('listed origins pass, others and garbage do not', () => {
    expect(isOriginAllowed('https://dash.example.org', 'srv:3000', allowed)).toBe(true);
    expect(isOriginAllowed('http://localhost:5173', 'srv:3000', allowed)).toBe(true);
    expect(isOriginAllowed('https://evil.example.org', 'srv:3000', allowed)).toBe(false);
    expect(isOriginAllowed('not a url', 'srv:3000', allowed)).toBe(false);
    expect(isOriginAllowed('null', 'srv:3000', allowed)).toBe(false);
    expect(isOriginAllowed('https://evil.example.org', 'srv:3000', ['*'])).toBe(true);
  });
});
