import { describe, expect, it } from 'vitest';
import { bodyTypeProblem, isStateChangeAllowed, StateChangeRequest } from './request-policy';

const base: StateChangeRequest = { method: 'POST', origin: undefined, secFetchSite: undefined, host: '127.0.0.1:3000', allowedOrigins: [] };

describe('isStateChangeAllowed (CSRF)', () => {
  it('lets safe methods through from anywhere', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(isStateChangeAllowed({ ...base, method, origin: 'http://evil.example', secFetchSite: 'cross-site' })).toBe(true);
    }
  });

  it('refuses a state change from another origin, including another local port and "null"', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post']) {
      expect(isStateChangeAllowed({ ...base, method, origin: 'http://evil.example' }), method).toBe(false);
    }
    expect(isStateChangeAllowed({ ...base, origin: 'http://127.0.0.1:4000' })).toBe(false);
    expect(isStateChangeAllowed({ ...base, origin: 'null' })).toBe(false);
    expect(isStateChangeAllowed({ ...base, origin: 'not a url' })).toBe(false);
  });

  it('accepts its own origin and ALLOWED_ORIGINS', () => {
    expect(isStateChangeAllowed({ ...base, origin: 'http://127.0.0.1:3000' })).toBe(true);
    expect(isStateChangeAllowed({ ...base, origin: 'https://app.example', allowedOrigins: ['https://app.example'] })).toBe(true);
  });

  it('without Origin: Sec-Fetch-Site cross-site/same-site refused; same-origin, none or absent accepted', () => {
    expect(isStateChangeAllowed({ ...base, secFetchSite: 'cross-site' })).toBe(false);
    expect(isStateChangeAllowed({ ...base, secFetchSite: 'Same-Site' })).toBe(false);
    expect(isStateChangeAllowed({ ...base, secFetchSite: 'same-origin' })).toBe(true);
    expect(isStateChangeAllowed({ ...base, secFetchSite: 'none' })).toBe(true);
    expect(isStateChangeAllowed(base)).toBe(true);
  });
});

describe('bodyTypeProblem', () => {
  it('JSON routes take application/json only', () => {
    expect(bodyTypeProblem('/api/users', 'application/json', true)).toBeNull();
    expect(bodyTypeProblem('/api/users', 'application/json; charset=utf-8', true)).toBeNull();
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', undefined]) {
      expect(bodyTypeProblem('/api/users', type, true)?.status, String(type)).toBe(415);
    }
    expect(bodyTypeProblem('/api/users', 'text/plain', true)?.message).toMatch(/application\/json/);
  });

  it('the upload route takes multipart only', () => {
    expect(bodyTypeProblem('/api/users/u1/samples', 'multipart/form-data; boundary=x', true)).toBeNull();
    expect(bodyTypeProblem('/api/users/u1/samples', 'application/x-www-form-urlencoded', true)?.status).toBe(415);
    expect(bodyTypeProblem('/api/users/u1/samples/extra', 'multipart/form-data; boundary=x', true)?.status).toBe(415);
    expect(bodyTypeProblem('/api/users/u1/faces', 'multipart/form-data; boundary=x', true)).toBeNull();
    expect(bodyTypeProblem('/api/users/u1/faces/f1', 'multipart/form-data; boundary=x', true)?.status).toBe(415);
  });

  it('a request without a body passes whatever its type', () => {
    expect(bodyTypeProblem('/api/cameras/c1/retry', 'application/x-www-form-urlencoded', false)).toBeNull();
  });
});
