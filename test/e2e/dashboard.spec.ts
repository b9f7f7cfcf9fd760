/**
 * The dashboard in real Chromium (Debian's `chromium`, driven by playwright-core) against the REAL server: the whole
 * AppModule on listen(0) (test/support/app.ts) with the bundled models, serving a fresh build of the dashboard on the
 * same origin as /ws. The fake webcam is ../shared/videos/d6.mp4 (a woman making strongly changing expressions) as
 * y4m. Screenshots land in $SCREENSHOT_DIR (default test-artifacts/dashboard, gitignored).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_COLORS } from '../../clients/dashboard/src/labels';
import type { CameraView } from '../../src/contracts/cameras';
import type { ModelVersionView, UserView } from '../../src/contracts/personalization';
import { startDashboard, type DashboardHarness } from '../support/dashboard';
import { D6, ROOT } from '../support/paths';
import { Relay } from '../support/relay';
import { steps } from '../support/steps';
import { requireTool } from '../support/require-tool';

const chromiumPath = requireTool('/usr/bin/chromium', 'chromium');
const ffmpegPath = requireTool('ffmpeg', 'ffmpeg');
const video = D6;
const screenshots = resolve(process.env.SCREENSHOT_DIR ?? join(ROOT, 'test-artifacts', 'dashboard'));
const TOKEN = 'dashboard-admin-token';
/** The dashboard's label colours (clients/dashboard/src/labels.ts) as RGB. */
const LABEL_RGB = Object.values(LABEL_COLORS).map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

describe.skipIf(!chromiumPath || !ffmpegPath)('dashboard in Chromium against the real server', () => {
  let work: string;
  /** Dashboard build, real server (same origin for the page and /ws), Chromium, CSP violations: test/support/dashboard.ts. */
  let h: DashboardHarness;
  const api = (method: 'get' | 'delete', path: string) => h.api(method, path);

  beforeAll(async () => {
    if (!existsSync(video)) throw new Error(`missing test video ${video}`);
    work = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
    mkdirSync(screenshots, { recursive: true });
    const y4m = join(work, 'face.y4m');
    // Chromium loops the y4m as its webcam: 4 s of d6 at 10 fps covers several expressions and stays small (~6 MB).
    execFileSync(ffmpegPath!, ['-nostdin', '-v', 'error', '-t', '4', '-i', video, '-vf', 'scale=320:320,fps=10', '-pix_fmt', 'yuv420p', y4m]);
    h = await startDashboard({
      token: TOKEN,
      chromiumPath: chromiumPath!,
      chromiumArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
    });
  });

  afterAll(async () => {
    await h?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const open = (viewport = { width: 1280, height: 860 }, url?: string): Promise<Page> => h.open({ viewport, permissions: ['camera'] }, url);
  const signIn = (page: Page): Promise<void> => h.signIn(page);

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

  /** Bright pixels on the canvas: the preview JPEG itself is drawn (d6 has a light wall), not only boxes on a blank. */
  async function picturePixels(page: Page, cameraId: string): Promise<number> {
    return page.evaluate(`(() => {
      const canvas = document.querySelector('canvas[data-camera="${cameraId}"]');
      if (!canvas) return -1;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 450) n++;
      return n;
    })()`);
  }

  const cameras = async () => (await api('get', '/api/cameras').expect(200)).body as CameraView[];

  it('signs in, (a) webcam first: real detection draws boxes and labels over the face and fills the timeline', async () => {
    const page = await open();
    const dialog = page.getByRole('dialog', { name: 'Sign in to iExpressionNet' });
    await dialog.waitFor();
    // the hint names where tokens come from (env or the token CLI); the server never logs them
    const hint = await page.locator('#login-hint').innerText();
    expect(hint).toContain('ADMIN_TOKEN');
    expect(hint).toContain('npm run token -- create --scope read');
    expect(hint).not.toMatch(/startup log/i);
    await page.getByLabel('Access token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    await signIn(page);
    expect(await dialog.count()).toBe(0);

    // With no cameras, the webcam is the first thing offered.
    await page.getByRole('heading', { name: "This browser's webcam" }).waitFor();
    await page.getByText('No cameras yet').waitFor();
    await page.getByLabel('Frames per second').selectOption('10');
    await page.getByRole('button', { name: 'Start webcam' }).click();
    // The real pipeline found the face in the frames the page pushed, and the tile lists it with its expression.
    const faceLink = page.getByRole('link', { name: /Face #\d+: (angry|disgust|fear|happy|sad|surprise|neutral) \d+%/ });
    await faceLink.first().waitFor({ timeout: 30_000 });
    const cameraId = (await page.locator('.webcam canvas').getAttribute('data-camera'))!;
    expect(cameraId).toBeTruthy();
    const browserCam = (await cameras()).find((c) => c.id === cameraId);
    expect(browserCam).toMatchObject({ kind: 'browser', status: 'streaming' });
    await expect.poll(() => overlayPixels(page, cameraId), { timeout: 10_000 }).toBeGreaterThan(100);
    await page.screenshot({ path: join(screenshots, 'a-webcam.png') });

    await faceLink.first().click();
    await page.getByRole('heading', { name: 'Expression over time' }).waitFor();
    await expect
      .poll(async () => Number((await page.getByText(/\d+ frames of face #\d+/).textContent())?.match(/\d+/)?.[0]), { timeout: 15_000 })
      .toBeGreaterThan(10);
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(screenshots, 'a-face-detail.png') });
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Stop webcam' }).click();
    await expect.poll(async () => (await cameras()).some((c) => c.id === cameraId), { timeout: 5000 }).toBe(false);
  });

  it('(d) a bad camera URL shows an inline error; (b) a file camera gets a live tile with preview and overlays', async () => {
    const page = await open();
    await signIn(page);
    const url = page.getByLabel('URL');
    await url.fill('ftp://not-a-camera/stream');
    await page.getByLabel('Name').fill('Bogus');
    await page.getByRole('button', { name: 'Add camera' }).click();
    const error = page.locator('#cam-url-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/ftp|scheme|URL/i);
    expect(await url.getAttribute('aria-invalid')).toBe('true');
    expect(await url.getAttribute('aria-describedby')).toBe('cam-url-error');
    expect(await cameras()).toEqual([]);
    await page.screenshot({ path: join(screenshots, 'd-bad-url.png') });

    await url.fill(`file://${video}`);
    await page.getByLabel('Name').fill('Living room');
    expect(await page.getByLabel('Loop the video file').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Add camera' }).click();
    const tile = page.getByRole('article', { name: 'Camera Living room' });
    await tile.waitFor();
    expect(await error.count()).toBe(0);
    await tile.getByText(/streaming/).waitFor({ timeout: 20_000 });
    await tile.getByRole('link', { name: /Face #\d+:/ }).first().waitFor({ timeout: 20_000 });
    const cameraId = (await tile.getAttribute('data-camera'))!;
    expect((await cameras()).find((c) => c.id === cameraId)).toMatchObject({ kind: 'file', loop: true });
    // The preview JPEG is drawn under the boxes: the canvas holds the picture and the overlay.
    await expect.poll(() => overlayPixels(page, cameraId), { timeout: 15_000 }).toBeGreaterThan(100);
    await expect.poll(() => picturePixels(page, cameraId), { timeout: 5000 }).toBeGreaterThan(5000);
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(screenshots, 'b-file-camera.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(screenshots, 'b-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });

    await tile.getByRole('button', { name: 'Remove camera Living room' }).click();
    await tile.waitFor({ state: 'detached' });
    expect((await cameras()).some((c) => c.id === cameraId)).toBe(false);
  });

  it('(c) calibration wizard with the webcam, through to an active personal model named on the overlays', async () => {
    const page = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Calibrate' }).click();
    await page.getByLabel("New person's name").fill('Ada');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.getByRole('radio', { name: /Ada/ }).waitFor();
    expect(await page.getByRole('radio', { name: /Ada/ }).isChecked()).toBe(true);
    const user = ((await api('get', '/api/users').expect(200)).body as UserView[]).find((u) => u.name === 'Ada')!;
    expect(user).toBeTruthy();

    await page.getByRole('button', { name: "Use this browser's webcam" }).click();
    await page.getByRole('button', { name: 'Bind this camera to Ada' }).click();
    await page.getByText('This camera now belongs to Ada.').waitFor();
    const bound = (await cameras()).find((c) => c.kind === 'browser')!;
    expect(bound.userId).toBe(user.id);

    // The default 3 s per expression, as a user gets it. Each window is time-bounded and every label needs a sample
    // (fine-tuning refuses a label with none): at 1.2 s a loaded CI machine kept 1-2 webcam frames per label (the 5 fps
    // webcam, each calibrating frame's face also embedded for the gallery) and once none of 'sad'.
    expect(await page.getByLabel('Seconds per expression').inputValue()).toBe('3');
    // Three rounds (natural, strong, subtle) by default; two here, to keep the test's minute: the round-by-round
    // prompts are the same code for any count.
    const rounds = page.getByLabel('Rounds');
    expect(await rounds.locator('option:checked').textContent()).toBe('3 rounds: natural, strong, subtle');
    await rounds.selectOption({ label: '2 rounds: natural, strong' });
    await page.getByRole('button', { name: 'Start calibration' }).click();
    const prompt = page.locator('.prompt');
    await prompt.getByText('Smile — look happy').waitFor({ timeout: 30_000 });
    expect(await prompt.textContent()).toMatch(/the way you would on your own.*Round 1 of 2 · Expression 4 of 7 · \d s/);
    await page.getByText(/✓ Kept|✕ Not kept/).first().waitFor();
    await page.screenshot({ path: join(screenshots, 'c-calibration-prompt.png') });
    await prompt.getByText('stronger — exaggerate it, as for a photo').waitFor({ timeout: 40_000 });
    expect(await prompt.textContent()).toMatch(/Round 2 of 2 · Expression \d of 7/);
    await page.getByText('✓ Calibration captured.').waitFor({ timeout: 60_000 });
    const counts = await page.getByLabel('Samples per expression').textContent();
    for (const label of ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']) expect(counts).toMatch(new RegExp(`${label}: [1-9]`));

    await page.getByLabel('Epochs').fill('12');
    await page.getByRole('button', { name: 'Train' }).click();
    await page.getByText(/Epoch \d+ of 12/).waitFor({ timeout: 30_000 });
    const result = page.getByText(/General \d+% → personal \d+% on your \d+ held-out samples \(model v1, now active\)/);
    await result.waitFor({ timeout: 60_000 });
    await page.locator('[data-version="1"]').getByText('(active)').waitFor();
    const models = (await api('get', `/api/users/${user.id}/models`).expect(200)).body as ModelVersionView[];
    expect(models).toMatchObject([{ version: 1, active: true }]);
    // Expression events from the webcam now come from Ada's personal head, and the captions say so.
    // "camera": the identity comes from the binding (docs/IDENTITY.md "Precedence"); "face" once calibration frames enrol.
    const live = page.getByRole('link', { name: /Face #\d+: \w+ \d+% · Ada \(personal, (camera|face)\)/ });
    await page.getByRole('link', { name: 'Cameras' }).click();
    await live.first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(screenshots, 'c-personal-overlay.png') });
    await page.getByRole('link', { name: 'Calibrate' }).click();
    // The live view re-mounts: wait until its webcam video is playing again before taking the picture.
    // page.evaluate, not waitForFunction(string): the latter evals in the page, which the dashboard's CSP forbids.
    await expect
      .poll(() => page.evaluate("[...document.querySelectorAll('video')].some((v) => v.isConnected && v.currentTime > 0.3 && v.readyState >= 2)"), { timeout: 30_000 })
      .toBe(true);
    await page.waitForTimeout(300);
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(screenshots, 'c-calibration-result.png'), fullPage: true });

    await page.getByRole('button', { name: 'Use general model' }).click();
    await page.getByRole('button', { name: 'Activate v1' }).waitFor();
    expect((await api('get', `/api/users/${user.id}/models`).expect(200)).body).toMatchObject([{ version: 1, active: false }]);
    // Back on the general head the face is still Ada's, no longer personal; then v1 again.
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('link', { name: /Face #\d+: \w+ \d+% · Ada \((camera|face)\)$/ }).first().waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: 'Calibrate' }).click();
    await page.getByRole('button', { name: 'Activate v1' }).click();
    await page.locator('[data-version="1"]').getByText('(active)').waitFor();
    await page.getByRole('link', { name: 'Cameras' }).click();
    await live.first().waitFor({ timeout: 15_000 });
  }, 270_000); // its waits (calibration ~42 s, training) bound failures; the default 60 s would cut a loaded run short

  it('shows the lost connection and recovers by itself after a server restart', async () => {
    // A relay keeps the page's address while the server behind it restarts on the same data directory.
    // Each step has its own limit (their sum stays under the test's timeout), so a stuck one is named with its time.
    const step = steps();
    const relay = new Relay(Number(new URL(h.server.url).port));
    await relay.start();
    try {
      const page = await step.run('open and sign in through the relay', 20_000, async () => {
        const p = await open(undefined, `http://127.0.0.1:${relay.port}`);
        await signIn(p);
        return p;
      });
      await step.run('close the server', 30_000, () => h.server.close());
      relay.cut();
      await step.run('page shows "reconnecting"', 10_000, async () => {
        await page.locator('[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
        await page.getByText(/connection|reconnect/i).first().waitFor({ timeout: 5_000 });
      });
      await page.screenshot({ path: join(screenshots, 'e-reconnecting.png') });
      const restarted = await step.run('restart on the same data', 30_000, () => h.restartOnSameData());
      relay.target = Number(new URL(restarted.url).port);
      await step.run('page reconnects by itself', 25_000, async () => {
        await page.locator('[data-state="open"]').waitFor({ timeout: 15_000 });
        // Lists are reloaded after the reconnect: the webcam panel is back to its ready state and the form works.
        await page.getByRole('button', { name: 'Add camera' }).waitFor({ timeout: 10_000 });
      });
    } finally {
      await relay.stop();
    }
  }, 150_000);

  it('no page broke the Content-Security-Policy', () => {
    expect(h.violations).toEqual([]);
  });
});
