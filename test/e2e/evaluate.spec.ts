/**
 * `npm run evaluate` (scripts/evaluate.ts), the command issue 17's acceptance reads PublicTest with: its report on real
 * FER-2013 test faces, its errors, and — for a model trained on levelled faces — test faces levelled in memory exactly
 * as scripts/align-fer.ts levels a set on disk, so the figure is the one the model's crop contract gives.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATASETS, MODELS, ROOT, TSX } from '../support/paths';

const FER_TEST = join(DATASETS, 'fer2013', 'test');
const PER_LABEL = 6;
const hasFer = existsSync(FER_TEST);
if (!hasFer) console.warn(`skipping evaluate on real faces: ${FER_TEST} is absent (datasets live in ../shared)`);
const tmp = mkdtempSync(join(tmpdir(), 'evaluate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tsx = (script: string, args: string[]) => spawnSync(TSX, [script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const evaluate = (args: string[]) => tsx('scripts/evaluate.ts', args);

interface Report {
  accuracy: number;
  count: number;
  confusion: number[][];
  model: string;
  levelling?: { passes: number; faces: number; levelled: number; withoutFace: number; leftUnrotated: number };
}
const json = (stdout: string): Report => JSON.parse(stdout.trim().split('\n').at(-1)!);

/** A few real test faces per label (links, so nothing is copied). */
function subset(): string {
  const dir = join(tmp, 'faces');
  if (existsSync(dir)) return dir;
  for (const label of readdirSync(FER_TEST)) {
    mkdirSync(join(dir, label), { recursive: true });
    for (const f of readdirSync(join(FER_TEST, label)).sort().slice(0, PER_LABEL)) symlinkSync(join(FER_TEST, label, f), join(dir, label, f));
  }
  return dir;
}

/** A models folder holding the shipped network under a manifest that says it was trained on faces levelled in `passes`. */
function levelledModels(passes: number): string {
  const dir = join(tmp, `models-level${passes}`);
  mkdirSync(join(dir, 'general'), { recursive: true });
  symlinkSync(join(MODELS, 'general', 'expression.onnx'), join(dir, 'general', 'expression.onnx'));
  const manifest = JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8'));
  manifest.general.crop = { levelEyes: true };
  manifest.general.ferLevelling = { passes };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return join(dir, 'general', 'expression.onnx');
}

describe('npm run evaluate', () => {
  it.skipIf(!hasFer)('scores the shipped model on real test faces: one JSON report, every face counted once', () => {
    const r = evaluate(['--data', subset(), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = json(r.stdout);
    expect(report.count).toBe(7 * PER_LABEL);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(report.count);
    expect(report.accuracy).toBe(report.confusion.reduce((s, row, i) => s + row[i], 0) / report.count);
    // the shipped manifest has no levelled crop: the faces are scored as they are
    expect(report.levelling).toBeUndefined();
    expect(report.model).toBe(join(MODELS, 'general', 'expression.onnx'));
  });

  it.skipIf(!hasFer)('levels the test faces as align-fer levels a set, for a model whose manifest says so', () => {
    const faces = subset();
    const model = levelledModels(2);
    const inMemory = evaluate(['--data', faces, '--model', model, '--json']);
    expect(inMemory.status, inMemory.stderr).toBe(0);
    const levelled = json(inMemory.stdout);
    expect(levelled.levelling).toMatchObject({ passes: 2, faces: 7 * PER_LABEL });
    const l = levelled.levelling!;
    expect(l.levelled + l.withoutFace + l.leftUnrotated).toBe(l.faces);
    expect(l.levelled).toBeGreaterThan(l.faces / 2);
    expect(inMemory.stderr).toContain(`levelled ${l.levelled} of ${l.faces} faces (2 passes`);

    // the same faces levelled on disk by scripts/align-fer.ts, scored as they are: the same predictions, face for face
    const onDisk = join(tmp, 'aligned');
    const aligned = tsx('scripts/align-fer.ts', ['--data', faces, '--out', onDisk, '--passes', '2']);
    expect(aligned.status, aligned.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(onDisk, 'align-report.json'), 'utf8'))).toMatchObject({ levelled: l.levelled, withoutFace: l.withoutFace });
    const fromDisk = evaluate(['--data', onDisk, '--json']);
    expect(fromDisk.status, fromDisk.stderr).toBe(0);
    expect(json(fromDisk.stdout).confusion).toEqual(levelled.confusion);

    // --level-passes overrides the manifest: 0 scores the original faces, as the shipped model's run does
    const plain = evaluate(['--data', faces, '--model', model, '--level-passes', '0', '--json']);
    expect(plain.status, plain.stderr).toBe(0);
    expect(json(plain.stdout).levelling).toBeUndefined();
    expect(json(plain.stdout).confusion).toEqual(json(evaluate(['--data', faces, '--json']).stdout).confusion);
    // on these faces levelling moves predictions (measured: 0, 1 and 2 passes give three different confusion matrices),
    // so the equality above pins both the levelling and its number of passes
    expect(json(plain.stdout).confusion).not.toEqual(levelled.confusion);
    const onePass = evaluate(['--data', faces, '--model', model, '--level-passes', '1', '--json']);
    expect(json(onePass.stdout).confusion).not.toEqual(levelled.confusion);
  });

  it('refuses bad arguments and a manifest it cannot read, saying why', () => {
    const bare = evaluate([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('usage: npm run evaluate');
    const passes = evaluate(['--data', tmp, '--level-passes', '9']);
    expect(passes.status).toBe(2);
    expect(passes.stderr).toContain('--level-passes must be an integer 0..8');
    const missing = evaluate(['--data', tmp, '--manifest', join(tmp, 'nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.json: no such file');
    const bad = join(tmp, 'bad-manifest.json');
    writeFileSync(bad, JSON.stringify({ general: { crop: { levelEyes: true }, ferLevelling: { passes: 'all' } } }));
    const wrong = evaluate(['--data', tmp, '--manifest', bad]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain(`${bad}: general.ferLevelling.passes`);
    writeFileSync(bad, '{ not json');
    const garbled = evaluate(['--data', tmp, '--manifest', bad]);
    expect(garbled.status).toBe(2);
    expect(garbled.stderr).toContain('not JSON');
  });
});
