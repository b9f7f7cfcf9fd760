/**
 * The personalization benchmark cannot rot: one JAFFE subject through the CLI (real detection, trunk, fine-tune),
 * once per seed with --seeds, checked for the per-seed runs, their means, and that each run is exactly the run that
 * --seed alone gives (the trunk-comparison protocol in docs/MODEL.md relies on it). Figures are not judged here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JAFFE, ROOT, TSX } from '../support/paths';

const subject = join(JAFFE, 'KA');
const hasJaffe = existsSync(subject);
if (!hasJaffe) console.warn(`skipping the bench:personalization run: ${subject} is absent (datasets live in ../shared)`);
const bench = (args: string[]) =>
  spawnSync(TSX, ['scripts/bench-personalization.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const common = ['--data', JAFFE, '--only', 'KA', '--epochs', '2', '--json'];

describe('npm run bench:personalization', () => {
  it.skipIf(!hasJaffe)('--seeds: one fine-tune per seed, the subject\'s figures are their means, each run equals --seed alone', () => {
    const r = bench([...common, '--seeds', '1,2']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const [row] = out.subjects;
    expect(row.id).toBe('KA');
    expect(row.runs.map((x: { seed: number }) => x.seed)).toEqual([1, 2]);
    const mean = (k: string) => row.runs.reduce((s: number, x: Record<string, number>) => s + x[k], 0) / 2;
    expect(row.personal).toBeCloseTo(mean('personal'), 4);
    expect(row.deltaFaces).toBeCloseTo(mean('deltaFaces'), 2);
    expect(out.mean.seeds).toEqual([1, 2]);
    expect(out.mean.personalPerSeed).toEqual(row.runs.map((x: { personal: number }) => x.personal)); // one subject

    const single = JSON.parse(bench([...common, '--seed', '2']).stdout);
    expect(single.subjects[0].runs).toBeUndefined();
    expect(single.subjects[0].personal).toBe(row.runs[1].personal);
    expect(single.subjects[0].deltaFaces).toBe(row.runs[1].deltaFaces);
    expect(single.subjects[0].general).toBe(row.general);
  });

  it.skipIf(!hasJaffe)('--blend-sweep: every fixed w scored with the same heads; w = 0 is the general head, w = 1 the head as served', () => {
    const r = bench([...common, '--seeds', '1,2', '--blend-sweep']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const [row] = out.subjects;
    expect(out.sweep.map((x: { w: number }) => x.w)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    for (const run of row.runs) {
      expect(run.sweepDeltaFaces).toHaveLength(11);
      expect(run.sweepDeltaFaces[0]).toBe(0); // w = 0: the general head itself
      expect(run.sweepDeltaFaces[10]).toBe(run.deltaFaces); // blend off by default: served w = 1
    }
    expect(out.sweep[0].personal).toBeCloseTo(row.general, 4);
    expect(out.sweep[10].personal).toBeCloseTo(row.general + row.deltaFaces / row.test, 4);
  });

  it.skipIf(!hasJaffe)('--cv-folds: each run reports the held-out calibration faces its blend weight was chosen on', () => {
    const r = bench([...common, '--cv-folds', '2', '--cv-epochs', '1']);
    expect(r.status, r.stderr).toBe(0);
    const [row] = JSON.parse(r.stdout).subjects;
    expect(row.blendCheck).toMatchObject({ folds: 2, faces: row.calibration });
    // w is chosen on these faces among 0 (general) … 1 (personal): the blend gets at least as many right as either head
    expect(row.blendCheck.blended).toBeGreaterThanOrEqual(Math.max(row.blendCheck.general, row.blendCheck.personal));
  });

  it.skipIf(!hasJaffe)('--dump: every test face\'s label and both heads\' probabilities, which give the run\'s own figures', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-dump-'));
    try {
      const file = join(dir, 'faces.json');
      const r = bench([...common, '--seeds', '1,2', '--dump', file]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      const [row] = out.subjects;
      const dump = JSON.parse(readFileSync(file, 'utf8'));
      expect(dump.classes).toHaveLength(7);
      expect(dump.runs.map((x: { id: string; seed: number }) => [x.id, x.seed])).toEqual([['KA', 1], ['KA', 2]]);
      const argmax = (p: number[], i: number) => p.slice(i * 7, i * 7 + 7).reduce((b, v, c, a) => (v > a[b] ? c : b), 0);
      for (const [k, run] of dump.runs.entries()) {
        const n = run.labels.length;
        expect(n).toBe(row.test);
        expect(run.general).toHaveLength(n * 7);
        expect(run.personal).toHaveLength(n * 7);
        for (let i = 0; i < n; i++) expect(run.personal.slice(i * 7, i * 7 + 7).reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 4);
        const right = (p: number[]) => run.labels.filter((y: number, i: number) => argmax(p, i) === y).length;
        expect(right(run.general)).toBe(Math.round(row.general * n));
        expect(right(run.personal)).toBe(Math.round(row.runs[k].personalHead * n)); // the head alone
        // as served (blend off by default, then the default gate 0.98): a face the general head is >= 0.98 sure of
        // keeps the general label
        const sure = (i: number) => Math.max(...run.general.slice(i * 7, i * 7 + 7)) >= 0.98;
        const served = run.labels.filter((y: number, i: number) => argmax(sure(i) ? run.general : run.personal, i) === y).length;
        expect(out.gate).toBe(0.98);
        expect(served - right(run.general)).toBe(row.runs[k].deltaFaces);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasJaffe)('--gate 1 is the personal head alone; a --gate outside 0.5-1 is refused', () => {
    const [row] = JSON.parse(bench([...common, '--gate', '1']).stdout).subjects;
    expect(row.personal).toBe(row.personalHead);
    const bad = bench(['--data', JAFFE, '--gate', '0.2']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--gate needs a number from 0.5 to 1 (1 = off), got 0.2');
  });

  it('refuses --seed with --seeds, and --seeds that are not integers', () => {
    const both = bench(['--data', JAFFE, '--seed', '1', '--seeds', '1,2']);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give --seed or --seeds, not both');
    const bad = bench(['--data', JAFFE, '--seeds', '1,x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--seeds needs comma-separated integers, got 1,x');
  });

  it.skipIf(!hasJaffe)('--augment-strength 0 trains on the calibration faces unaugmented; a negative strength is refused', () => {
    const off = bench([...common, '--augment-strength', '0']);
    expect(off.status, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout).subjects[0].personal).toBeGreaterThan(0);
    const negative = bench(['--data', JAFFE, '--augment-strength', '-1']);
    expect(negative.status).toBe(2);
    expect(negative.stderr).toContain('--augment-strength needs a number >= 0, got -1');
  });
});
