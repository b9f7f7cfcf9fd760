/**
 * The HTTP edge (src/delivery/http-edge.ts) on a real server without tokens on loopback, the default that a web page
 * the user visits could otherwise drive: CSRF (origin rule, JSON-only bodies), DNS rebinding (Host on REST and on
 * the WebSocket upgrade) and the security headers. The same attacks in real Chromium: test/e2e/edge-browser.spec.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, TestClient, type TestServer } from '../support/server';

describe('HTTP edge: CSRF, DNS rebinding, security headers', () => {
  let server: TestServer;
  let port: number;
  let staticDir: string;
  const http = () => request(server.url);

  beforeAll(async () => {
    staticDir = mkdtempSync(join(tmpdir(), 'iex-edge-static-'));
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>dashboard</title>');
    server = await startTestServer({}, (app) => app.useStaticAssets(staticDir, { index: 'index.html' }));
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(staticDir, { recursive: true, force: true });
  });

  describe('CSRF: state changes only from this origin, JSON bodies only', () => {
    it('a cross-origin form POST (urlencoded, the "simple" request a page can send) is refused and creates nothing', async () => {
      const res = await http()
        .post('/api/cameras')
        .set('Origin', 'http://evil.example')
        .type('form')
        .send({ url: 'http://127.0.0.1:9/x', name: 'c' })
        .expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, error: 'forbidden' });
      expect(server.cameras.list()).toEqual([]);
    });

    it('cross-origin is refused whatever the body: JSON, no body, DELETE; another local port is another origin', async () => {
      await http().post('/api/cameras').set('Origin', 'http://evil.example').send({ url: 'file:///x.mp4' }).expect(403);
      await http().post('/api/cameras').set('Origin', `http://127.0.0.1:${port + 1}`).send({ url: 'file:///x.mp4' }).expect(403);
      await http().post('/api/cameras').set('Origin', 'null').send({ url: 'file:///x.mp4' }).expect(403);
      // No Origin, but the browser says the request comes from another site.
      await http().post('/api/cameras').set('Sec-Fetch-Site', 'cross-site').send({ url: 'file:///x.mp4' }).expect(403);
      expect(server.cameras.list()).toEqual([]);
      const cam = server.cameras.add({ url: 'file:///keep.mp4', name: 'keep' });
      await http().delete(`/api/cameras/${cam.id}`).set('Origin', 'http://evil.example').expect(403);
      await http().post(`/api/cameras/${cam.id}/retry`).set('Sec-Fetch-Site', 'same-site').expect(403);
      expect(server.cameras.get(cam.id)).toBeDefined();
      server.cameras.remove(cam.id);
    });

    it('same origin, Sec-Fetch-Site same-origin/none, and non-browser clients (no Origin) pass; GETs pass from anywhere', async () => {
      const own = await http().post('/api/cameras').set('Origin', server.url).send({ url: 'file:///a.mp4', name: 'a' }).expect(201);
      await http().post('/api/cameras').set('Sec-Fetch-Site', 'same-origin').send({ url: 'file:///b.mp4', name: 'b' }).expect(201);
      await http().post('/api/cameras').send({ url: 'file:///c.mp4', name: 'c' }).expect(201);
      await http().get('/api/cameras').set('Origin', 'http://evil.example').set('Sec-Fetch-Site', 'cross-site').expect(200);
      await http().delete(`/api/cameras/${own.body.id}`).set('Origin', server.url).expect(204);
      for (const c of server.cameras.list()) server.cameras.remove(c.id);
    });

    it('a JSON route refuses urlencoded, text/plain and multipart bodies with 415, even from a non-browser client', async () => {
      const form = await http().post('/api/cameras').type('form').send({ url: 'file:///x.mp4', name: 'f' }).expect(415);
      expect(form.body).toMatchObject({ statusCode: 415, error: 'bad_message' });
      expect(form.body.message).toMatch(/application\/json/);
      await http().post('/api/cameras').set('Content-Type', 'text/plain').send('{"url":"file:///x.mp4"}').expect(415);
      await http().post('/api/cameras').field('url', 'file:///x.mp4').expect(415);
      expect(server.cameras.list()).toEqual([]);
    });
  });

  describe('DNS rebinding: the Host header', () => {
    it('REST with a foreign Host is refused with 421 before any route; loopback names pass with any port', async () => {
      const res = await http().get('/api/cameras').set('Host', `evil.example:${port}`).expect(421);
      expect(res.body).toMatchObject({ statusCode: 421, error: 'forbidden' });
      expect(res.body.message).toMatch(/ALLOWED_HOSTS/);
      await http().get('/').set('Host', `evil.example:${port}`).expect(421);
      await http().post('/api/cameras').set('Host', `evil.example:${port}`).set('Origin', `http://evil.example:${port}`).send({ url: 'file:///x.mp4' }).expect(421);
      expect(server.cameras.list()).toEqual([]);
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', `127.0.0.1:${port + 7}`]) {
        await http().get('/api/cameras').set('Host', host).expect(200);
      }
    });

    it('a WebSocket upgrade with a foreign Host and a matching Origin is refused (421), never greeted', async () => {
      const ws = new WebSocket(server.wsUrl, { headers: { Host: `evil.example:${port}` }, origin: `http://evil.example:${port}` });
      const outcome = await new Promise<{ status?: number; body?: string; opened?: boolean }>((resolve) => {
        ws.once('open', () => resolve({ opened: true }));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        ws.once('error', () => undefined);
      });
      ws.terminate();
      expect(outcome.opened).toBeUndefined();
      expect(outcome.status).toBe(421);
      expect(JSON.parse(outcome.body!)).toMatchObject({ error: 'forbidden' });
      // The same upgrade with an allowed Host and its own origin is greeted.
      const ok = await TestClient.connect(server.wsUrl, { headers: { Host: `localhost:${port}` }, origin: `http://localhost:${port}` });
      expect(await ok.next((m) => m.type === 'hello')).toMatchObject({ scope: 'admin' });
      ok.close();
    });

    it('ALLOWED_HOSTS adds names', async () => {
      const other = await startTestServer({ ALLOWED_HOSTS: 'cams.example.org' });
      try {
        const otherPort = new URL(other.url).port;
        await request(other.url).get('/api/cameras').set('Host', `cams.example.org:${otherPort}`).expect(200);
        await request(other.url).get('/api/cameras').set('Host', `evil.example:${otherPort}`).expect(421);
      } finally {
        await other.close();
      }
    });
  });

  describe('security headers', () => {
    function expectHeaders(res: request.Response): void {
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/object-src 'none'/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }

    it('on the dashboard, the API, errors and refusals; no X-Powered-By', async () => {
      const page = await http().get('/').expect(200);
      expect(page.text).toContain('dashboard');
      expectHeaders(page);
      expect(page.headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/);
      expectHeaders(await http().get('/api/cameras').expect(200));
      expectHeaders(await http().get('/api/health').expect((r) => expect(r.status).toBeLessThan(600)));
      expectHeaders(await http().get('/api/nothing-here').expect(404));
      expectHeaders(await http().get('/api/cameras').set('Host', 'evil.example').expect(421));
      expectHeaders(await http().post('/api/cameras').set('Origin', 'http://evil.example').send({}).expect(403));
    });

    it('the Swagger UI gets inline styles on its own path only', async () => {
      const docs = await http().get('/api/docs/').redirects(1).expect(200);
      expectHeaders(docs);
      expect(docs.headers['content-security-policy']).toMatch(/style-src 'self' 'unsafe-inline'/);
      expect(docs.headers['content-security-policy']).not.toMatch(/script-src[^;]*unsafe/);
    });
  });
});
