/**
 * The dashboard in real Chromium against the REAL server, for the dashboard e2e specs: a fresh build of
 * clients/dashboard served by the whole AppModule (test/support/app.ts) on the same origin as /ws (so the gateway's
 * Origin check passes without ALLOWED_ORIGINS), Debian's chromium driven by playwright-core, every page's CSP
 * violations collected (the dashboard must work under the server's CSP, src/delivery/http-edge.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import request from 'supertest';
import { build } from 'vite';
import { startRealApp, type RealApp } from './app';
import { ROOT } from './paths';

/** Flags every dashboard spec launches Chromium with (a test machine: no sandbox, GPU, updates or sync). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface DashboardHarness {
  /** The server now serving (restartOnSameData replaces it). */
  server: RealApp;
  browser: Browser;
  /** A temp folder of the spec's own (the dashboard build is in it), removed by close(). */
  work: string;
  /** CSP violations reported by any page opened with open(). */
  violations: string[];
  /** A new context and page on the dashboard, errors logged, CSP violations collected. */
  open(options?: BrowserContextOptions, url?: string): Promise<Page>;
  /** Fills the sign-in dialog with the token and waits for the connection badge to say "open". */
  signIn(page: Page): Promise<void>;
  /** supertest against the server with the admin token. */
  api(method: 'get' | 'post' | 'patch' | 'delete', path: string): request.Test;
  /** After `server.close()`: a new server on the same data directory serving the same build (a restart). */
  restartOnSameData(): Promise<RealApp>;
  close(): Promise<void>;
}

/** Builds the dashboard, starts the real server serving it with ADMIN_TOKEN=token, and launches Chromium. */
export async function startDashboard(options: { token: string; env?: Record<string, string>; chromiumPath: string; chromiumArgs?: string[] }): Promise<DashboardHarness> {
  const work = mkdtempSync(join(tmpdir(), 'dashboard-harness-'));
  const outDir = join(work, 'dist');
  await build({ configFile: resolve(ROOT, 'clients/dashboard/vite.config.ts'), logLevel: 'error', build: { outDir, sourcemap: false } });
  const env = { HOST: '127.0.0.1', ADMIN_TOKEN: options.token, BATCH_SIZE: '4', ...options.env };
  const serve: Parameters<typeof startRealApp>[2] = (app) => app.useStaticAssets(outDir, { index: 'index.html' });
  const server = await startRealApp(env, undefined, serve);
  const browser = await chromium.launch({ executablePath: options.chromiumPath, args: [...CHROMIUM_ARGS, ...(options.chromiumArgs ?? [])] });
  const contexts: BrowserContext[] = [];
  const violations: string[] = [];
  const harness: DashboardHarness = {
    server,
    browser,
    work,
    violations,
    async open(contextOptions = {}, url = harness.server.url) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...contextOptions });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error('page error:', err.message));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(url);
      return page;
    },
    async signIn(page) {
      await page.getByLabel('Access token').fill(options.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('[data-state="open"]').waitFor();
    },
    api: (method, path) => request(harness.server.url)[method](path).set('authorization', `Bearer ${options.token}`),
    async restartOnSameData() {
      harness.server = await startRealApp(env, harness.server.dataDir, serve);
      return harness.server;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
      await harness.server.close();
      rmSync(harness.server.dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
  return harness;
}
