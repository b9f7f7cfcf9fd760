/**
 * docs/API.md's REST table names every HTTP route of the real server (read from the router, as the authorization
 * test does), and names no route that does not exist: a new endpoint needs its row.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealApp, startRealApp } from '../support/app';
import { ROOT } from '../support/paths';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** `GET /api/users/:id` → `GET /api/users/:_` so parameter names may differ between code and docs. */
const normalize = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/:\w+/g, ':_')}`;

function documentedRoutes(): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8');
  const rest = doc.slice(doc.indexOf('\n## REST'), doc.indexOf('\n## ', doc.indexOf('\n## REST') + 1));
  return [...rest.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`\s]+)`/gm)].map((m) => normalize(m[1], m[2]));
}

describe('docs/API.md lists every REST route', () => {
  let server: RealApp;
  let routes: string[];

  beforeAll(async () => {
    server = await startRealApp();
    const express = server.app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
    routes = (express.router ?? express._router)!.stack
      .filter((l) => l.route)
      .flatMap((l) => Object.keys(l.route!.methods).map((m) => normalize(m, l.route!.path)));
  }, 60_000);
  afterAll(() => server?.close());

  it('has a row for each route of the router', () => {
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const documented = new Set(documentedRoutes());
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
  });

  it('has no row for a route the server does not have (the OpenAPI pages are served outside the router)', () => {
    const served = new Set([...routes, normalize('get', '/api/docs'), normalize('get', '/api/docs-json')]);
    expect(documentedRoutes().filter((r) => !served.has(r))).toEqual([]);
  });
});
