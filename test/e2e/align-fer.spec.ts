/**
 * scripts/align-fer.ts (issue 17's levelled faces) on real FER-2013 faces: the layout and stems survive, a report says
 * what was found, and a face turned by 15 degrees comes back nearer the same face levelled — the rotation is undone
 * (in part: YuNet's landmarks under-read a turn) by the pipeline's own detector and level-eyes.ts, not merely applied.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DATASETS, JAFFE, ROOT, TSX } from '../support/paths';

const FER = join(DATASETS, 'fer2013', 'train');
/** Faces per label (happy, surprise) and turned happy faces. */
const PER_LABEL = 16;
const hasFer = existsSync(FER);
if (!hasFer) console.warn(`skipping align-fer on real faces: ${FER} is absent (datasets live in ../shared)`);
const tmp = mkdtempSync(join(tmpdir(), 'align-fer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const align = (args: string[]) => spawnSync(TSX, ['scripts/align-fer.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

const gray = async (path: string) => new Uint8Array((await sharp(path).grayscale().raw().toBuffer({ resolveWithObject: true })).data);
const meanAbs = (a: Uint8Array, b: Uint8Array, inset = 8) => {
  // the centre only: corners of a turned face hold padding, not face
  let sum = 0;
  let n = 0;
  for (let y = inset; y < 48 - inset; y++) for (let x = inset; x < 48 - inset; x++, n++) sum += Math.abs(a[y * 48 + x] - b[y * 48 + x]);
  return sum / n;
};

describe('npx tsx scripts/align-fer.ts', () => {
  it.skipIf(!hasFer)('levels real faces, keeps layout and stems, and undoes a 15 degree turn', async () => {
    const src = join(tmp, 'src');
    const names: string[] = [];
    for (const label of ['happy', 'surprise']) {
      mkdirSync(join(src, label), { recursive: true });
      for (const f of readdirSync(join(FER, label)).sort().slice(0, PER_LABEL)) {
        symlinkSync(join(FER, label, f), join(src, label, f));
        names.push(`${label}/${f}`);
      }
    }
    // each happy face again, turned 15 degrees (centre cut back to 48x48, corners mid-gray)
    for (const f of readdirSync(join(FER, 'happy')).sort().slice(0, PER_LABEL)) {
      const turned = await sharp(join(FER, 'happy', f)).grayscale().rotate(15, { background: '#808080' }).raw().toBuffer({ resolveWithObject: true });
      const off = Math.floor((turned.info.width - 48) / 2);
      await sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: turned.info.channels } })
        .extract({ left: off, top: off, width: 48, height: 48 })
        .toFile(join(src, 'happy', `turned_${f.replace(/\.jpg$/, '.png')}`));
    }
    const out = join(tmp, 'out');
    const r = align(['--data', src, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(`${out}.partial`)).toBe(false);
    const report = JSON.parse(readFileSync(join(out, 'align-report.json'), 'utf8'));
    expect(report.faces).toBe(3 * PER_LABEL);
    expect(report.levelled + report.withoutFace + report.leftUnrotated.faces).toBe(3 * PER_LABEL);
    expect(report.passes).toBe(1);
    expect(report.levelled).toBeGreaterThanOrEqual(2 * PER_LABEL);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual(report);
    for (const n of names) expect(existsSync(join(out, n.replace(/\.jpg$/, '.png'))), n).toBe(true);
    const meta = await sharp(join(out, names[0].replace(/\.jpg$/, '.png'))).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([48, 48, 1]);

    // turned faces: after levelling, nearer the levelled original than the turned input was to the original
    const happy = readdirSync(join(FER, 'happy')).sort().slice(0, PER_LABEL).map((f) => f.replace(/\.jpg$/, '.png'));
    const left = async (dir: string, fromSource = false) => {
      let sum = 0;
      for (const f of happy) {
        const a = fromSource ? await gray(join(FER, 'happy', f.replace(/\.png$/, '.jpg'))) : await gray(join(dir, 'happy', f));
        sum += meanAbs(a, await gray(join(dir, 'happy', `turned_${f}`)));
      }
      return sum;
    };
    /** Per turned face that was found (its output differs from the turned input): what is left against the original. */
    const leftFound = async (dir: string) => {
      const out: number[] = [];
      for (const f of happy) {
        const turned = await gray(join(dir, 'happy', `turned_${f}`));
        if (meanAbs(turned, await gray(join(src, 'happy', `turned_${f}`))) > 0.5) out.push(meanAbs(await gray(join(dir, 'happy', f)), turned));
      }
      return out;
    };
    const before = await left(src, true);
    const after = await left(out);
    // YuNet reads a 15 degree turn as 7-10 degrees on these 48 px faces (its landmarks lean toward upright) and misses
    // some turned faces, so one pass undoes part of the turn: measured 0.74 of the difference left; turning the wrong
    // way would leave more than before
    expect(after).toBeLessThan(before * 0.85);
    // further passes read what is left: more of each found face's turn undone
    const out3 = join(tmp, 'out3');
    const r3 = align(['--data', src, '--out', out3, '--passes', '3']);
    expect(r3.status, r3.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out3, 'align-report.json'), 'utf8'))).toMatchObject({ passes: 3, faces: 3 * PER_LABEL });
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const [one, three] = [await leftFound(out), await leftFound(out3)];
    expect(three.length).toBeGreaterThanOrEqual(PER_LABEL / 2);
    // measured: median 20.5 grey levels left after one pass, 10.6 after three
    expect(median(three)).toBeLessThan(0.75 * median(one));
  });

  it('refuses a folder without label folders, a face that is not 48x48, and missing arguments', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const none = align(['--data', empty, '--out', join(tmp, 'o1')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no <label>/*.jpg|png faces');
    const big = join(tmp, 'big', 'happy');
    mkdirSync(big, { recursive: true });
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toFile(join(big, 'a.png'));
    const wrong = align(['--data', join(tmp, 'big'), '--out', join(tmp, 'o2')]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('64x64, expected 48x48');
    expect(existsSync(join(tmp, 'o2'))).toBe(false);
    const bare = align([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('--data and --out are required');
  });

  it.skipIf(!hasFer || !existsSync(JAFFE))('scripts/bench/level-eyes-readback.ts: how much of a known turn YuNet reads back, per pass', () => {
    const r = spawnSync(TSX, ['scripts/bench/level-eyes-readback.ts', '--every', '1000', '--passes', '2', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { faces: number; readback: Record<string, number> }>;
    const [fer, passes, photos] = Object.values(report);
    expect(Object.keys(report)).toHaveLength(3);
    expect(fer.faces).toBeGreaterThan(10);
    expect(Object.keys(fer.readback)).toEqual(['-20°', '-10°', '10°', '20°']);
    // a turn is read in its own direction, and never more than it is
    for (const v of Object.values(fer.readback)) expect(v).toBeGreaterThan(0);
    for (const v of Object.values(fer.readback)) expect(v).toBeLessThan(1.5);
    expect(Object.keys(passes.readback)).toEqual(['1 pass', '2 passes']);
    expect(passes.readback['2 passes']).toBeGreaterThan(passes.readback['1 pass']);
    expect(photos.faces).toBeGreaterThan(0);
  });
});
