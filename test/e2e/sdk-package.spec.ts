/**
 * The SDK as a user gets it: `npm pack` in clients/sdk (prepack builds dist/), `npm install <tarball>` into an empty
 * project, a TypeScript program type-checked against the installed declarations, and the package's example run with
 * plain `node` against the real server (AppModule on listen(0), test/support/app.ts).
 *
 * The SDK's runtime dependencies (rxjs, and ws for the example) are packed from this repository's node_modules and
 * installed with `--offline`, so the test needs no registry; a user's `npm install` fetches the same versions.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealApp, type RealApp } from '../support/app';
import { D6, ROOT } from '../support/paths';

const run = promisify(execFile);
const SDK = join(ROOT, 'clients', 'sdk');
const NAME = '@iexpressionnet/sdk';
const TOKEN = 'sdk-package-admin-token';
const VIDEO = D6;
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: 240_000, maxBuffer: 16 << 20 });

describe('SDK package: npm pack → npm install → the example against a real server', () => {
  let work: string;
  let project: string;
  let tarball: string;
  let server: RealApp | undefined;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'iex-sdk-pkg-'));
    const packs = join(work, 'packs');
    mkdirSync(packs);
    await npm(['pack', '--pack-destination', packs], SDK);
    tarball = join(packs, readdirSync(packs).find((f) => f.endsWith('.tgz'))!);
    for (const dep of ['rxjs', 'tslib', 'ws']) await npm(['pack', '--ignore-scripts', '--pack-destination', packs, join(ROOT, 'node_modules', dep)], work);
    project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const deps = readdirSync(packs).filter((f) => f !== tarball.split('/').pop()).map((f) => join(packs, f));
    await npm(['install', '--offline', '--ignore-scripts', tarball, ...deps], project);
  }, 300_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds the built package only: no sources, no server code, no zod', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/protocol.d.ts', 'dist/browser-camera.js', 'dist/examples/print-expressions.mjs']));
    expect(files.filter((f) => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md')).toEqual([]);
    const installed = join(project, 'node_modules', NAME);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(['rxjs']);
    for (const f of readdirSync(join(installed, 'dist')).filter((f) => /\.(js|d\.ts)$/.test(f))) {
      const text = readFileSync(join(installed, 'dist', f), 'utf8');
      const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      // only the package's own files and its dependency: nothing outside the tarball, nothing of the server's
      expect(imports.filter((s) => !/^\.\/[\w-]+\.js$/.test(s) && s !== 'rxjs'), f).toEqual([]);
      expect(text, f).not.toMatch(/\bzod\b/);
    }
  });

  it('its declarations type-check a consumer program and reject a wrong command', async () => {
    writeFileSync(
      join(project, 'check.ts'),
      `import { IExpressionClient, IExpressionRest, LABEL_NAMES, type AckOf, type CameraView, type ExpressionEvent } from '${NAME}';
import { startBrowserCamera } from '${NAME}/browser-camera';
const client = new IExpressionClient({ url: 'http://localhost:3000', token: 't' });
export async function f(): Promise<string> {
  const ack: AckOf<'camera.add'> = await client.command('camera.add', { url: 'rtsp://cam/1', loop: true });
  const view: CameraView = ack.camera;
  // @ts-expect-error: camera.add needs a string url
  await client.command('camera.add', { url: 1 });
  // @ts-expect-error: no such command
  await client.command('camera.explode', {});
  const label: (typeof LABEL_NAMES)[number] = 'happy';
  const e = null as unknown as ExpressionEvent;
  return view.id + label + e.faces[0].scores.happy.toFixed(2) + typeof startBrowserCamera + typeof IExpressionRest;
}
`,
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // skipLibCheck off: the shipped .d.ts files themselves must be valid; no @types: they need nothing else
    const compilerOptions = { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [], skipLibCheck: false };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 120_000);

  it('the installed example connects, authenticates, lists cameras, adds one and prints its events', async () => {
    server = await startRealApp({ HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, BATCH_SIZE: '4' });
    let video = VIDEO;
    const withFaces = existsSync(VIDEO);
    if (!withFaces) {
      console.warn(`${VIDEO} is absent (videos live in ../shared): the example plays a generated test pattern, so no faces are printed`);
      video = join(work, 'pattern.mp4');
      // the binary the server itself falls back to (ingest/ffmpeg.locator.ts)
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const ffmpeg = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
      await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '3', '-pix_fmt', 'yuv420p', video]);
    }
    const example = join(project, 'node_modules', NAME, 'dist', 'examples', 'print-expressions.mjs');
    const proc = spawn(process.execPath, [example, `file://${video}`], {
      cwd: project,
      env: { ...process.env, IEX_URL: server.url, IEX_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    const want = withFaces ? /#\d+ (angry|disgust|fear|happy|sad|surprise|neutral) [01]\.\d\d/ : /\bstreaming\b/;
    const deadline = Date.now() + 60_000;
    while (!want.test(out) && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(want);
    expect(out).toMatch(/connected to .* \(protocol 1, scope admin\)/);
    expect(out).toContain('cameras: none');
    const cameraId = /added camera (\S+)/.exec(out)?.[1];
    expect(cameraId).toBeDefined();
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(((await request(server.url).get('/api/cameras').set(auth).expect(200)).body as { id: string }[]).map((c) => c.id)).toEqual([cameraId]);
    // Ctrl-C: the example removes its camera and exits 0
    proc.kill('SIGINT');
    expect(await exited, out).toBe(0);
    expect((await request(server.url).get('/api/cameras').set(auth).expect(200)).body).toEqual([]);
  }, 120_000);
});
