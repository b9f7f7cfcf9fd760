/**
 * The trunk benchmark (issue 17's ms-per-face figures) cannot rot: a tiny real run through the CLI on the shipped
 * trunk, and its argument errors. Figures are not judged here (docs/BENCHMARKS.md has them).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

const tsx = resolve(ROOT, 'node_modules/.bin/tsx');
const trunk = resolve(ROOT, 'models/general/trunk.onnx');
const bench = (args: string[]) => spawnSync(tsx, ['scripts/bench-trunk.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('npx tsx scripts/bench-trunk.ts', () => {
  it('times a trunk the way the server runs it and prints one JSON object with --json', () => {
    const r = bench(['--runs', '10', '--batch', '2', '--json', trunk]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ model: trunk, batch: 2, threads: 1, runs: 10 });
    expect(out.rows[0].msPerFace).toBeCloseTo(out.rows[0].msPerBatch / 2, 6);
    expect(out.rows[0].minMsPerBatch).toBeLessThanOrEqual(out.rows[0].msPerBatch);
  });

  it('--help prints the usage (exit 0); no model or an unknown option is refused with the usage (exit 2)', () => {
    const help = bench(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: bench-trunk');
    const none = bench([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give at least one trunk.onnx');
    const bogus = bench(['--bogus', trunk]);
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage: bench-trunk/);
  });
});
