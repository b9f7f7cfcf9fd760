/**
 * The dashboard in real Chromium (Debian's `chromium`, driven by playwright-core), with a face video from
 * ../shared/videos as the fake webcam, against the fake server in clients/sdk/testing (the real gateway is tested in
 * test/sdk-real-server.spec.ts once it exists). Screenshots land in $SCREENSHOT_DIR (default /tmp/dashboard-screenshots).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeServer } from '../clients/sdk/testing/fake-server';
import { LABEL_COLORS } from '../clients/dashboard/src/labels';
import { requireTool } from './support/require-tool';

const chromiumPath = requireTool('/usr/bin/chromium', 'chromium');
const ffmpegPath = requireTool('ffmpeg', 'ffmpeg');
const video = resolve(__dirname, '../../shared/videos/d6.mp4');
const screenshots = process.env.SCREENSHOT_DIR ?? '/tmp/dashboard-screenshots';
const TOKEN = 'secret-token';
/** The dashboard's label colours (clients/dashboard/src/overlay.ts) as RGB. */
const LABEL_RGB = Object.values(LABEL_COLORS).map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

describe.skipIf(!chromiumPath || !ffmpegPath)('dashboard in Chromium', () => {
  let work: string;
  let server: FakeServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!existsSync(video)) throw new Error(`missing test video ${video}`);
    work = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
    mkdirSync(screenshots, { recursive: true });
    const y4m = join(work, 'face.y4m');
    const jpeg = join(work, 'preview.jpg');
    // Chromium loops the y4m as its webcam; 3 s at 10 fps is plenty and small.
    execFileSync(ffmpegPath!, ['-nostdin', '-v', 'error', '-t', '3', '-i', video, '-vf', 'scale=320:320,fps=10', '-pix_fmt', 'yuv420p', y4m]);
    execFileSync(ffmpegPath!, ['-nostdin', '-v', 'error', '-ss', '1', '-i', video, '-frames:v', '1', '-vf', 'scale=480:-2', jpeg]);
    const outDir = join(work, 'dist');
    await build({ configFile: resolve(__dirname, '../clients/dashboard/vite.config.ts'), logLevel: 'error', build: { outDir, sourcemap: false } });
    server = await new FakeServer({ token: TOKEN, staticDir: outDir, previewJpeg: readFileSync(jpeg), eventFps: 8 }).start();
    browser = await chromium.launch({
      executablePath: chromiumPath!,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${y4m}`,
      ],
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function open(viewport = { width: 1280, height: 860 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    await context.grantPermissions(['camera']);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(server.url);
    return page;
  }

  async function signIn(page: Page): Promise<void> {
    await page.getByLabel('Access token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-state="open"]').waitFor();
  }

  /** Pixels on the camera's overlay canvas in a label colour: the boxes and caption bars are really drawn. */
  async function overlayPixels(page: Page, cameraId: string): Promise<number> {
    // Runs in the page (DOM types are not in this Node program, hence the string).
    return page.evaluate(`(() => {
      const canvas = document.querySelector('canvas[data-camera="${cameraId}"]');
      if (!canvas) return -1;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const colours = ${JSON.stringify(LABEL_RGB)};
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (colours.some(([r, g, b]) => Math.abs(data[i] - r) < 4 && Math.abs(data[i + 1] - g) < 4 && Math.abs(data[i + 2] - b) < 4)) n++;
      }
      return n;
    })()`);
  }

  it('asks for a token, rejects a wrong one, and connects with the right one', async () => {
    const page = await open();
    const dialog = page.getByRole('dialog', { name: 'Sign in to iExpressionNet' });
    await dialog.waitFor();
    await expect(page.locator('[data-state]').textContent()).resolves.toContain('Signed out');
    await page.getByLabel('Access token').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    await signIn(page);
    expect(await dialog.count()).toBe(0);
    expect(await page.evaluate("sessionStorage.getItem('iexpressionnet.token')")).toBe(TOKEN);
    // Reload: the token from sessionStorage is used without asking again.
    await page.reload();
    await page.locator('[data-state="open"]').waitFor();
    expect(await dialog.count()).toBe(0);
  });

  it('(a) webcam first: pushes frames, draws boxes and labels over the face, and fills the timeline', async () => {
    const page = await open();
    await signIn(page);
    // With no cameras, the webcam is the first thing offered.
    await page.getByRole('heading', { name: "This browser's webcam" }).waitFor();
    await page.getByText('No cameras yet').waitFor();
    await page.getByLabel('Frames per second').selectOption('10');
    await page.getByRole('button', { name: 'Start webcam' }).click();
    const faceLink = page.getByRole('link', { name: /Face #1: \w+ \d+%/ });
    await faceLink.first().waitFor({ timeout: 15_000 });
    const cameraId = await page.locator('.webcam canvas').getAttribute('data-camera');
    expect(cameraId).toBeTruthy();
    await expect.poll(() => server.framesReceived.get(cameraId!) ?? 0, { timeout: 5000 }).toBeGreaterThan(5);
    const frames = server.received.filter((m) => m.type === 'browser.open');
    expect(frames).toHaveLength(1);
    await expect.poll(() => overlayPixels(page, cameraId!), { timeout: 5000 }).toBeGreaterThan(100);
    await page.screenshot({ path: join(screenshots, 'a-webcam.png') });

    await faceLink.first().click();
    await page.getByRole('heading', { name: 'Expression over time' }).waitFor();
    await page.waitForTimeout(1500);
    await expect.poll(async () => Number((await page.getByText(/\d+ frames of face #1/).textContent())?.match(/\d+/)?.[0])).toBeGreaterThan(5);
    // The chart has drawn lines (uPlot renders to a canvas with series paths).
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(screenshots, 'a-face-detail.png') });
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Stop webcam' }).click();
  });

  it('(d) a bad camera URL shows an inline error; (b) a good one gets a live tile with overlays; remove works', async () => {
    const page = await open();
    await signIn(page);
    const url = page.getByLabel('URL');
    await url.fill('ftp://not-a-camera/stream');
    await page.getByLabel('Name').fill('Bogus');
    await page.getByRole('button', { name: 'Add camera' }).click();
    const error = page.locator('#cam-url-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('unsupported URL');
    expect(await url.getAttribute('aria-invalid')).toBe('true');
    expect(await url.getAttribute('aria-describedby')).toBe('cam-url-error');
    await page.screenshot({ path: join(screenshots, 'd-bad-url.png') });

    await url.fill('rtsp://admin:hunter2@192.168.1.20/stream');
    await page.getByLabel('Name').fill('Front door');
    await page.getByRole('button', { name: 'Add camera' }).click();
    const tile = page.getByRole('article', { name: 'Camera Front door' });
    await tile.waitFor();
    expect(await error.count()).toBe(0);
    await tile.getByText(/streaming/).waitFor();
    await tile.getByRole('link', { name: /Face #1:/ }).waitFor();
    expect(await tile.textContent()).not.toContain('hunter2');
    const cameraId = (await tile.getAttribute('data-camera'))!;
    await expect.poll(() => overlayPixels(page, cameraId), { timeout: 5000 }).toBeGreaterThan(100);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(screenshots, 'b-camera-tile.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(screenshots, 'b-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });

    await tile.getByRole('button', { name: 'Remove camera Front door' }).click();
    await tile.waitFor({ state: 'detached' });
    expect(server.cameras.has(cameraId)).toBe(false);
  });

  it('(c) calibration wizard with the webcam: prompts, feedback, training progress, result, version switch', async () => {
    const page = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Calibrate' }).click();
    await page.getByLabel("New person's name").fill('Ada');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.getByRole('radio', { name: /Ada/ }).waitFor();
    expect(await page.getByRole('radio', { name: /Ada/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: "Use this browser's webcam" }).click();
    await page.getByRole('button', { name: 'Bind this camera to Ada' }).click();
    await page.getByText('This camera now belongs to Ada.').waitFor();
    const bind = server.received.find((m) => m.type === 'camera.bind');
    expect(bind).toMatchObject({ userId: 'u1' });

    await page.getByLabel('Seconds per expression').fill('1');
    await page.getByRole('button', { name: 'Start calibration' }).click();
    const prompt = page.locator('.prompt');
    await prompt.getByText('Smile — look happy').waitFor({ timeout: 10_000 });
    expect(await prompt.textContent()).toMatch(/Expression 4 of 7 · \d s/);
    await page.getByText(/✓ Kept|✕ Not kept/).first().waitFor();
    await page.screenshot({ path: join(screenshots, 'c-calibration-prompt.png') });
    await page.getByText('✓ Calibration captured.').waitFor({ timeout: 15_000 });
    expect(await page.getByLabel('Samples per expression').textContent()).toContain('neutral: 1');

    await page.getByLabel('Epochs').fill('6');
    await page.getByRole('button', { name: 'Train' }).click();
    await page.getByText(/Epoch \d of 6/).waitFor();
    const result = page.getByText(/General 54% → personal 88% on your 14 held-out samples/);
    await result.waitFor({ timeout: 10_000 });
    expect(await result.textContent()).toContain('now active');
    expect(await page.locator('progress').getAttribute('value')).toBe('6');
    await page.locator('[data-version="1"]').getByText('(active)').waitFor();
    // Expression events now say the face is Ada's, personalised.
    await page.locator('canvas[aria-label="Live view for calibration"]').waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(screenshots, 'c-calibration-result.png'), fullPage: true });

    await page.getByRole('button', { name: 'Use general model' }).click();
    await page.getByRole('button', { name: 'Activate v1' }).waitFor();
    expect(server.received.filter((m) => m.type === 'model.activate').at(-1)).toMatchObject({ version: 0 });
    await page.getByRole('button', { name: 'Activate v1' }).click();
    await page.locator('[data-version="1"]').getByText('(active)').waitFor();
  });

  it('shows reconnection and recovers by itself; server errors reach the person', async () => {
    const page = await open();
    await signIn(page);
    server.dropConnections();
    await page.locator('[data-state="open"]').waitFor({ state: 'detached', timeout: 5000 }).catch(() => undefined);
    await page.locator('[data-state="open"]').waitFor({ timeout: 10_000 });
    // An error the server sends without a command id is shown, not swallowed.
    server.publish({ type: 'error', id: null, code: 'rate_limited', message: 'too many frames' });
    await page.getByRole('alert').filter({ hasText: 'too many frames' }).waitFor();
  });
});
