/**
 * The trunk-feature probe (MODEL.md, "Why the larger trunks personalise worse") cannot rot: real detection and trunk
 * on one JAFFE subject. Its general figure must be bench:personalization's for the same subject (same crops, same
 * head), and with the calibration photos as their own test set every face must find its own prototype.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JAFFE, ROOT, TSX } from '../support/paths';

const subject = join(JAFFE, 'KA');
const hasJaffe = existsSync(subject);
if (!hasJaffe) console.warn(`skipping the trunk-feature probe: ${subject} is absent (datasets live in ../shared)`);
const run = (script: string, args: string[]) => spawnSync(TSX, [script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const probe = (args: string[]) => run('scripts/probe-trunk-features.ts', args);
const models = join(ROOT, 'models');
const tmp = mkdtempSync(join(tmpdir(), 'probe-trunk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npx tsx scripts/probe-trunk-features.ts', () => {
  it.skipIf(!hasJaffe)('scores the general head as bench:personalization does, one row per models dir', () => {
    const one = join(tmp, 'one');
    mkdirSync(one);
    symlinkSync(subject, join(one, 'KA'));
    const r = probe(['--data', one, '--models', `${models},${models}`, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.results).toHaveLength(2);
    expect(out.results[1]).toEqual(out.results[0]);
    const [row] = out.results;
    expect(row).toMatchObject({ subjects: 1 });
    for (const k of ['prototypesRaw', 'prototypesCentred', 'augmented']) {
      expect(row[k]).toBeGreaterThan(0);
      expect(row[k]).toBeLessThanOrEqual(1);
    }
    const bench = run('scripts/bench-personalization.ts', ['--data', JAFFE, '--only', 'KA', '--epochs', '1', '--json']);
    expect(bench.status, bench.stderr).toBe(0);
    const b = JSON.parse(bench.stdout).subjects[0];
    expect(row.testFaces).toBe(b.test);
    expect(row.general).toBeCloseTo(b.general, 3);
  });

  it.skipIf(!hasJaffe)('with the calibration photos as the test set, every face takes its own label', () => {
    const self = join(tmp, 'self', 'KA');
    mkdirSync(self, { recursive: true });
    symlinkSync(join(subject, 'calibration'), join(self, 'calibration'));
    symlinkSync(join(subject, 'calibration'), join(self, 'test'));
    const r = probe(['--data', join(tmp, 'self'), '--models', models, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [row] = JSON.parse(r.stdout).results;
    expect(row.prototypesRaw).toBe(1);
    expect(row.prototypesCentred).toBe(1);
  });

  it.skipIf(!hasJaffe)('cuts faces levelled for a model whose manifest says general.crop.levelEyes, as bench:personalization does', () => {
    const one = join(tmp, 'level-data');
    mkdirSync(one);
    symlinkSync(subject, join(one, 'KA'));
    // the shipped model's files, with a manifest that asks for levelled crops
    const levelled = join(tmp, 'level-models');
    mkdirSync(levelled);
    for (const name of readdirSync(models)) if (name !== 'manifest.json') symlinkSync(join(models, name), join(levelled, name));
    const manifest = JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8'));
    writeFileSync(join(levelled, 'manifest.json'), JSON.stringify({ ...manifest, general: { ...manifest.general, crop: { levelEyes: true } } }));
    const r = probe(['--data', one, '--models', `${models},${levelled}`, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [plain, level] = JSON.parse(r.stdout).results;
    expect([plain.levelEyes, level.levelEyes]).toEqual([false, true]);
    expect(level.testFaces).toBe(plain.testFaces);
    const bench = run('scripts/bench-personalization.ts', ['--data', one, '--models', levelled, '--epochs', '1', '--json']);
    expect(bench.status, bench.stderr).toBe(0);
    const b = JSON.parse(bench.stdout);
    expect(b.levelEyes).toBe(true);
    expect(level.general).toBeCloseTo(b.subjects[0].general, 3);

    writeFileSync(join(levelled, 'manifest.json'), JSON.stringify({ ...manifest, general: { ...manifest.general, crop: { levelEyes: 'yes' } } }));
    const bad = probe(['--data', one, '--models', levelled, '--json']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('general.crop.levelEyes must be true or false');
  });

  it('refuses a call without --data or --models, and unknown options (exit code 2)', () => {
    const none = probe([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('--data <root> and --models <dir>');
    const bogus = probe(['--bogus']);
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toContain('unknown argument --bogus');
  });
});
