import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { DataError, loadFer, loadFerCsv, loadFerFolder } from '../../src/inference/fer-dataset';

const PIX = Array(2304).fill('7').join(' ');

describe('FER-2013 CSV loader', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fer-csv-'));
    path = join(dir, 'fer.csv');
  });

  it('reads rows and filters by Usage', async () => {
    writeFileSync(path, `emotion,pixels,Usage\n3,${PIX},Training\n5,${PIX},PublicTest\n0,${PIX},PrivateTest\n`);
    const d = await loadFerCsv(path, { usage: 'PublicTest' });
    expect(d.labels).toEqual([5]);
    expect(d.images[0].length).toBe(2304);
    expect(d.images[0][100]).toBe(7);
    expect(d.sources[0]).toBe(`${path}:3`);
  });

  it('skips and counts bad rows, naming file and line', async () => {
    const short = Array(100).fill('1').join(' ');
    writeFileSync(
      path,
      `emotion,pixels,Usage\n3,${PIX},Training\n9,${PIX},Training\n2,${short},Training\n1,${PIX},Nope\n4,x${PIX.slice(1)},Training\n`,
    );
    const problems: string[] = [];
    const d = await loadFerCsv(path, { onProblem: (m) => problems.push(m) });
    expect(d.labels).toEqual([3]);
    expect(d.skipped).toBe(4);
    expect(problems[0]).toBe(`${path}:3: unknown emotion label '9' (expected 0..6)`);
    expect(problems[1]).toBe(`${path}:4: expected 2304 pixels, got 100`);
    expect(problems[2]).toBe(`${path}:5: unknown Usage 'Nope'`);
    expect(problems[3]).toBe(`${path}:6: pixels must be integers 0..255`);
  });

  it('--strict makes the first problem fatal', async () => {
    writeFileSync(path, `emotion,pixels,Usage\n3,${PIX},Training\n9,${PIX},Training\n`);
    await expect(loadFerCsv(path, { strict: true })).rejects.toThrow(`${path}:3: unknown emotion label`);
  });

  it('reports a missing column and an empty file', async () => {
    writeFileSync(path, `label,pixels\n3,${PIX}\n`);
    await expect(loadFerCsv(path)).rejects.toThrow(`${path}:1: missing column 'emotion'`);
    writeFileSync(path, '');
    await expect(loadFerCsv(path)).rejects.toThrow(DataError);
  });
});

describe('FER-2013 folder loader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fer-dir-'));
  });
  const img = async (label: string, name: string, w = 48, h = 48, channels: 1 | 3 = 1) => {
    mkdirSync(join(dir, label), { recursive: true });
    await sharp({ create: { width: w, height: h, channels: channels === 1 ? 3 : 3, background: { r: 200, g: 100, b: 50 } } })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .toFile(join(dir, label, name));
  };

  it('loads images, resizes and converts to gray, and reports bad files', async () => {
    await img('happy', 'a.jpg');
    await img('sad', 'b.png', 96, 96, 3);
    writeFileSync(join(dir, 'happy', 'notes.txt'), 'hello');
    writeFileSync(join(dir, 'happy', 'broken.jpg'), 'not a jpeg');
    mkdirSync(join(dir, 'bored'));
    const problems: string[] = [];
    const d = await loadFerFolder(dir, { onProblem: (m) => problems.push(m) });
    expect([...d.labels].sort()).toEqual([3, 4]);
    expect(d.skipped).toBe(3);
    const sad = d.images[d.labels.indexOf(4)];
    expect(sad.length).toBe(2304);
    // (200*19595 + 100*38470 + 50*7471 + 32768) >> 16 = 124
    expect(sad[0]).toBe(124);
    const text = problems.join('\n');
    expect(text).toContain("unknown label folder 'bored'");
    expect(text).toContain(`${join(dir, 'happy', 'broken.jpg')}: unreadable image`);
    expect(text).toContain(`${join(dir, 'happy', 'notes.txt')}: not an image file`);
  });

  it('rejects an empty folder and --strict stops at the first bad file', async () => {
    await expect(loadFerFolder(dir)).rejects.toThrow('no label folders');
    mkdirSync(join(dir, 'happy'));
    await expect(loadFerFolder(dir)).rejects.toThrow('no images found');
    await img('happy', 'a.jpg');
    writeFileSync(join(dir, 'happy', 'broken.jpg'), 'x');
    await expect(loadFerFolder(dir, { strict: true })).rejects.toThrow('broken.jpg: unreadable image');
  });

  it('loadFer refuses what is neither a csv nor a folder', async () => {
    writeFileSync(join(dir, 'x.txt'), '');
    await expect(loadFer(join(dir, 'x.txt'))).rejects.toThrow('not a .csv file or a folder');
  });
});
