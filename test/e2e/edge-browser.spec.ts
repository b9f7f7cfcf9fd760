/**
 * The HTTP edge in real Chromium (Debian's `chromium`, driven by playwright-core): an attacker page served from
 * another local port tries the CSRF that used to create a camera (no-cors fetch with a urlencoded body, a text/plain
 * JSON body, an auto-submitted form), and the dashboard and the Swagger UI load and work under their CSP with no
 * violation. The server is the whole app behind the production edge (test/support/app.ts), without a token on
 * loopback (the default, which any page the user visits could reach), serving a fresh build of the dashboard.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraView } from '../../src/contracts/cameras';
import { setupOpenApi } from '../../src/delivery/openapi';
import { startRealApp, type RealApp } from '../support/app';
import { D6, ROOT } from '../support/paths';
import { requireTool } from '../support/require-tool';

const chromiumPath = requireTool('/usr/bin/chromium', 'chromium');
const video = D6;

describe.skipIf(!chromiumPath)('HTTP edge in Chromium', () => {
  let work: string;
  let server: RealApp;
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;
  const contexts: BrowserContext[] = [];
  /** Origin header of every state-changing request that reached the server (proves the attacks were delivered). */
  const changes: { method: string; url: string; origin: string | undefined }[] = [];

  beforeAll(async () => {
    if (!existsSync(video)) throw new Error(`missing test video ${video}`);
    work = mkdtempSync(join(tmpdir(), 'edge-browser-'));
    const outDir = join(work, 'dist');
    await build({ configFile: resolve(ROOT, 'clients/dashboard/vite.config.ts'), logLevel: 'error', build: { outDir, sourcemap: false } });
    // As src/main.ts does: the API docs, then the dashboard at `/`.
    server = await startRealApp({ HOST: '127.0.0.1', BATCH_SIZE: '2' }, undefined, (app) => {
      setupOpenApi(app);
      app.useStaticAssets(outDir, { index: 'index.html' });
    });
    server.app.getHttpServer().prependListener('request', (req: { method: string; url: string; headers: Record<string, string | undefined> }) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') changes.push({ method: req.method, url: req.url, origin: req.headers.origin });
    });
    // The attacker's site: another origin on this machine (the page a user happens to visit).
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(attackPage(server.url));
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: chromiumPath!,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await new Promise((r) => (attacker ? attacker.close(r) : r(undefined)));
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A page that records CSP violations (the DOM event and the console line) from its first script on. */
  async function open(): Promise<{ page: Page; violations: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => violations.push(`page error: ${err.message}`));
    await page.exposeFunction('__cspViolation', (v: string) => violations.push(v));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolation(e.violatedDirective + ' blocked ' + e.blockedURI + ' (' + e.sourceFile + ':' + e.lineNumber + ')'))`);
    return { page, violations };
  }

  const list = async <T>(path: string) => (await request(server.url).get(path).expect(200)).body as T[];

  it('a page on another local port cannot create a camera or a user: no-cors urlencoded fetch, text/plain JSON, a posted form', async () => {
    const { page } = await open();
    await page.goto(attackerUrl);
    // After the fetches the form is posted: the page navigates to the server's answer, the refusal.
    await page.waitForURL(`${server.url}/api/cameras`, { timeout: 15_000 });
    expect(await page.textContent('body')).toMatch(/forbidden|cross-origin/);
    const attacks = changes.filter((c) => c.method === 'POST');
    expect(attacks.map((a) => a.url).sort()).toEqual(['/api/cameras', '/api/cameras', '/api/cameras', '/api/users']);
    for (const a of attacks) expect(a.origin).toBe(attackerUrl);
    expect(await list('/api/cameras')).toEqual([]);
    expect(await list('/api/users')).toEqual([]);
  });

  it('the dashboard loads, streams previews and overlays, and shows its pages with no CSP violation', async () => {
    const { page, violations } = await open();
    const response = await page.goto(server.url);
    expect(response!.headers()['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    await page.locator('[data-state="open"]').waitFor({ timeout: 15_000 });

    // A file camera (previews drawn from Blobs, overlays from the real pipeline) and its face's page (uPlot chart).
    const cam = (await request(server.url).post('/api/cameras').send({ url: `file://${video}`, name: 'Door', fps: 3, loop: true }).expect(201))
      .body as CameraView;
    try {
      const tile = page.getByRole('article', { name: 'Camera Door' });
      await tile.waitFor({ timeout: 15_000 });
      // Previews really arrive and are decoded: bright pixels of d6's light wall on the tile's canvas.
      await expect
        .poll(
          () =>
            page.evaluate(`(() => {
              const c = document.querySelector('canvas[data-camera="${cam.id}"]');
              if (!c) return 0;
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 450) n++;
              return n;
            })()`),
          { timeout: 30_000 },
        )
        .toBeGreaterThan(1000);
      const face = tile.getByRole('link', { name: /Face #\d+:/ }).first();
      await face.waitFor({ timeout: 30_000 });
      await face.click();
      await page.getByRole('heading', { name: 'Expression over time' }).waitFor();
      await expect.poll(() => page.locator('.chart canvas').count(), { timeout: 10_000 }).toBeGreaterThan(0);
      await page.getByRole('link', { name: 'Calibrate' }).click();
      await page.getByLabel("New person's name").waitFor();
      await page.getByRole('link', { name: 'Cameras' }).click();
      await tile.waitFor();
    } finally {
      await request(server.url).delete(`/api/cameras/${cam.id}`).expect(204);
    }
    expect(violations).toEqual([]);
  });

  it('the Swagger UI at /api/docs renders under its own CSP with no violation', async () => {
    const { page, violations } = await open();
    await page.goto(`${server.url}/api/docs`);
    await page.locator('.swagger-ui .info .title').getByText('iExpressionNet').waitFor({ timeout: 15_000 });
    await page.locator('.opblock').first().waitFor();
    await page.locator('.opblock-summary').first().click();
    await page.locator('.opblock-body').first().waitFor();
    expect(violations).toEqual([]);
  });
});

/** The attacks of issue #12, finding 1, against `target`; then posts a form (navigates). */
function attackPage(target: string): string {
  return `<!doctype html><title>cute cats</title>
<form id="f" method="POST" action="${target}/api/cameras"><input name="url" value="http://127.0.0.1:9/form"><input name="name" value="form"></form>
<script>
(async () => {
  const send = (init) => fetch('${target}/api/cameras', { method: 'POST', mode: 'no-cors', ...init }).catch(() => undefined);
  await send({ body: new URLSearchParams({ url: 'http://127.0.0.1:9/x', name: 'c' }) });
  await send({ headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ url: 'http://127.0.0.1:9/y', name: 'd' }) });
  await fetch('${target}/api/users', { method: 'POST', mode: 'no-cors', body: new URLSearchParams({ name: 'x' }) }).catch(() => undefined);
  document.getElementById('f').submit();
})();
</script>`;
}
