/**
 * Last resort: when the server process gets SIGTERM/SIGINT with nobody handling it (no Nest shutdown hooks), or just
 * exits, NodeProcessSpawner SIGKILLs the ffmpeg children it started, so none outlives the server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'vitest';
import { waitUntil } from '../support/ingest-app';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith } from '../support/rtsp';
import { ROOT, TSX } from '../support/paths';

const FFMPEG = requireTool('ffmpeg', 'ffmpeg');

/** A child Node process that starts one endless ffmpeg through NodeProcessSpawner, then waits or exits. */
function child(marker: string, mode: 'wait' | 'exit') {
  const dir = mkdtempSync(join(tmpdir(), 'spawner-exit-'));
  const script = join(dir, 'main.ts');
  writeFileSync(
    script,
    `import { NodeProcessSpawner } from ${JSON.stringify(resolve(ROOT, 'src/ingest/process.spawner'))};
const c = new NodeProcessSpawner().spawn(${JSON.stringify(FFMPEG)}, ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi',
  '-i', 'testsrc=size=64x64:rate=5,drawtext=text=${marker}', '-f', 'null', '-']);
c.stderr.resume();
console.log('SPAWNED', c.pid);
${mode === 'exit' ? "setTimeout(() => process.exit(0), 300);" : 'setInterval(() => undefined, 1000);'}
`,
  );
  return spawn(TSX, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe.skipIf(!FFMPEG)('ffmpeg children do not outlive the process', () => {
  it.each(['SIGTERM', 'SIGINT', 'exit'] as const)('%s', async (how) => {
    const marker = `m${Math.random().toString(36).slice(2, 10)}`;
    const p = child(marker, how === 'exit' ? 'exit' : 'wait');
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => p.once('exit', r));
    await waitUntil(() => out.includes('SPAWNED'), 20_000, `child to spawn ffmpeg (${out})`);
    await waitUntil(() => ffmpegProcessesWith(marker).length === 1, 5000, 'ffmpeg running');
    try {
      if (how !== 'exit') p.kill(how);
      await exited;
      await waitUntil(() => ffmpegProcessesWith(marker).length === 0, 3000, 'ffmpeg gone');
    } finally {
      for (const pid of ffmpegProcessesWith(marker)) process.kill(pid, 'SIGKILL'); // don't leak when it fails
    }
  });
});
