/**
 * Every HTTP route of the REAL server (all modules, read from the router itself, so a new endpoint cannot slip
 * through): no token → 401, a wrong token → 401, a read token on a write → 403, and an admin token is let through.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealApp, startRealApp } from '../support/app';

const ADMIN = 'admin-token-for-routes-test';
const READ = 'read-token-for-routes-test';
const PUBLIC = new Set(['get /api/health']);
/** Reads that need the admin scope: webhook rules (their URLs may carry a receiver's token; docs/INTEGRATIONS.md). */
const ADMIN_READS = new Set(['get /api/webhooks', 'get /api/webhooks/x', 'get /api/webhooks/x/deliveries']);

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

describe('authorization on every route of the real server', () => {
  let server: RealApp;
  let routes: { method: string; path: string }[];

  beforeAll(async () => {
    server = await startRealApp({ ADMIN_TOKEN: ADMIN, READ_TOKEN: READ });
    const express = server.app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
    const stack = (express.router ?? express._router)!.stack;
    routes = stack
      .filter((l) => l.route)
      .flatMap((l) => Object.keys(l.route!.methods).map((m) => ({ method: m, path: l.route!.path.replace(/:(\w+)/g, 'x') })));
  }, 60_000);
  afterAll(() => server?.close());

  it('finds the routes of every module', () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    for (const expected of ['post /api/cameras', 'get /api/users', 'post /api/users/x/samples', 'post /api/users/x/finetune', 'get /metrics']) {
      expect(keys).toContain(expected);
    }
  });

  it('refuses requests without a valid token, and writes with a read token', async () => {
    const http = request(server.url);
    const call = (method: string, path: string) => (http as unknown as Record<string, (p: string) => request.Test>)[method](path);
    let checked = 0;
    for (const { method, path } of routes) {
      const key = `${method} ${path}`;
      if (PUBLIC.has(key)) {
        expect((await call(method, path)).status, key).toBe(200);
        continue;
      }
      expect((await call(method, path)).status, key).toBe(401);
      expect((await call(method, path).set('Authorization', 'Bearer not-a-real-token')).status, key).toBe(401);
      const asRead = await call(method, path).set('Authorization', `Bearer ${READ}`);
      if (method === 'get' && !ADMIN_READS.has(key)) expect([401, 403], key).not.toContain(asRead.status);
      else expect(asRead.status, key).toBe(403);
      const asAdmin = await call(method, path).set('Authorization', `Bearer ${ADMIN}`);
      expect([401, 403], key).not.toContain(asAdmin.status);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(15);
  });
});
