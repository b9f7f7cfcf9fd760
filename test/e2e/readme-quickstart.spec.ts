/**
 * README's quick start, run verbatim against a real server process: every ```sh quickstart block, in order, as one
 * bash script. Only BASE (a variable the README itself reads) points it at this server; the video and photos are
 * the README's defaults under ../shared.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildServer, startChildServer } from '../support/child-server';
import { ROOT } from '../support/paths';
import { requireTool } from '../support/require-tool';

const NEEDED = [join(ROOT, '..', 'shared', 'videos', 'd0.mp4'), join(ROOT, '..', 'shared', 'datasets', 'taiwanese', 'P01', 'calibration')];

/** The fenced blocks marked `sh quickstart`, in README order. */
function quickstartBlocks(readme: string): string[] {
  return [...readme.matchAll(/^```sh quickstart\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

const missing = NEEDED.filter((p) => !existsSync(p));
if (missing.length) console.warn(`skipping the README quick start: ${missing.join(', ')} missing (the shared data folder next to the clone)`);
const curl = requireTool('curl', 'curl');

describe.skipIf(missing.length > 0 || !curl)('README quick start, verbatim, against a real server', () => {
  let server: ChildServer;
  let dataDir = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'iex-quickstart-'));
    server = await startChildServer({ dataDir, startTimeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await server?.term();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds a camera, sees events, creates a user with samples, fine-tunes, follows the job, sees personalized events', async () => {
    const blocks = quickstartBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const script = ['set -euo pipefail', ...blocks].join('\n');
    expect(script).toContain('BASE=${BASE:-http://127.0.0.1:3000}');

    const run = await new Promise<{ code: number | null; out: string }>((res) => {
      const child = spawn('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, BASE: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        res({ code, out });
      });
    });
    const context = `${run.out}\n--- server log ---\n${server.log().slice(-3000)}`;
    expect(run.code, context).toBe(0);

    const camera = /^camera (\S+)$/m.exec(run.out)?.[1];
    const user = /^user (\S+)$/m.exec(run.out)?.[1];
    expect(camera, context).toBeTruthy();
    expect(user, context).toBeTruthy();
    // general events on the unbound camera
    expect(run.out).toMatch(new RegExp(`^${camera} track \\d+: \\w+ [\\d.]+ user=null personalized=false$`, 'm'));
    // every label got at least one stored photo
    for (const label of ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']) {
      expect(run.out, context).toMatch(new RegExp(`^${label} \\S+ 201$`, 'm'));
    }
    expect(run.out, context).toMatch(/^job ft[0-9a-f]+: done$/m);
    expect(run.out).toMatch(new RegExp(`"result":\\{"userId":"${user}","version":1,[^]*"active":true`));
    // personalized events on the camera bound to the user
    expect(run.out, context).toMatch(new RegExp(`^\\S+ track \\d+: \\w+ [\\d.]+ user=${user} personalized=true$`, 'm'));
    expect(run.out.trimEnd().split('\n').slice(-3)).toEqual(['204', '204', '204']);
  }, 300_000);
});
