/**
 * The cluster benchmark cannot rot: a tiny real run (nats-server + 2 node processes, 2 cameras, 3 s measured, then the
 * kill -9) through the CLI, checked for the JSON the issue asks for. Figures are not judged here (docs/BENCHMARKS.md).
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireNatsServer } from '../support/nats';
import { D6, ROOT } from '../support/paths';
import { hasD6 } from '../support/video';

const tsx = resolve(ROOT, 'node_modules/.bin/tsx');
const natsBin = requireNatsServer();

/** Runs the CLI; resolves with its exit code and output (spawn, not spawnSync: the run takes a minute). */
function bench(args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(tsx, ['scripts/bench-cluster.ts', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      res({ status, stdout, stderr });
    });
  });
}

describe.skipIf(!hasD6 || !natsBin)('npm run bench:cluster', () => {
  it('prints one JSON object: frames/s overall and per node, latency on another node, NATS cost per event, recovery', async () => {
    const r = await bench(['--nodes', '2', '--cameras', '2', '--source', D6, '--fps', '10', '--warmup', '1', '--duration', '3', '--server', 'source', '--json'], 280_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ nodes: 2, cameras: 2, fpsPerCamera: 10, server: 'source', placementFrom: 'camera views' });
    expect(out.framesPerSecond).toBeGreaterThan(0);
    expect(out.perNode.map((n: { id: string }) => n.id)).toEqual(['node1', 'node2']);
    expect(out.perNode.reduce((a: number, n: { cameras: number }) => a + n.cameras, 0)).toBe(2);
    const other = out.latencyMs.otherNode;
    expect(other.n + out.latencyMs.sameNode.n).toBeGreaterThan(0);
    if (other.n) expect(other.p50).toBeLessThanOrEqual(other.p99);
    expect(out.nats.eventsPublished).toBeGreaterThan(0);
    expect(out.nats.bytesInPerEvent).toBeGreaterThan(0);
    expect(out.nats.bytesOutPerEvent).toBeGreaterThan(0);
    expect(out.recovery.killed).toMatch(/^node[12]$/);
    expect(out.recovery.seconds, out.recovery.note).toBeGreaterThan(0);
    expect(out.recovery.seconds).toBeLessThanOrEqual(30);
  }, 300_000);

  it('refuses a bad option with a message and exit code 2', () => {
    const r = spawnSync(tsx, ['scripts/bench-cluster.ts', '--nodes', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--nodes must be an integer >= 1');
  });
});
