/**
 * The NATS fail-over probe (docs/CLUSTER.md "Known gaps": its figures) cannot rot: its argument errors, and a short
 * real run on a 3-server cluster printing one JSON summary. Figures are not judged here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireNatsServer } from '../support/nats';
import { ROOT } from '../support/paths';

const tsx = resolve(ROOT, 'node_modules/.bin/tsx');
const script = 'scripts/probe-nats-failover.ts';
const bin = requireNatsServer();

describe('npx tsx scripts/probe-nats-failover.ts', () => {
  it('refuses a bad --kill, --signal or --seconds with the usage (exit 2)', () => {
    for (const [args, message] of [
      [['--kill', 'all'], '--kill must be meta or other'],
      [['--signal', 'SIGHUP'], '--signal must be SIGKILL or SIGTERM'],
      [['--seconds', '2'], '--seconds must be a number >= 5'],
    ] as const) {
      const r = spawnSync(tsx, [script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it.skipIf(!bin)('stops one server of three and prints one JSON summary of the tries that followed', async () => {
    const child = spawn(tsx, [script, '--kill', 'other', '--seconds', '5', '--every', '0', '--json'], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code, err).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({ wasMetaLeader: false, signal: 'SIGKILL', seconds: 5 });
    expect(summary.tries).toBeGreaterThanOrEqual(8);
    expect(summary.tries % 8).toBe(0);
    expect(summary.timeouts).toBe(summary.perMinute.reduce((n: number, m: { timeouts: number }) => n + m.timeouts, 0));
    expect(err).toMatch(/stopping iex-n\d with SIGKILL/);
  }, 120_000);
});
