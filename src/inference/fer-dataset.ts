/**
 * FER-2013 in both published formats, decoded to the classifier's 48x48 grayscale contract (preprocess.ts):
 *   - the Kaggle CSV: `emotion,pixels,Usage`, 2,304 space-separated pixels per row;
 *   - image folders: `<split>/<label>/*.{jpg,jpeg,png}`.
 * Mirrors scripts/fer/data.py: the same problems are reported the same way (file and line), skipped and counted,
 * or fatal with `strict`.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { LABEL_NAMES } from '../contracts/labels';
import { INPUT_SIZE, areaResize, toGray } from './preprocess';

export const USAGES = ['Training', 'PublicTest', 'PrivateTest'] as const;
export type Usage = (typeof USAGES)[number];
const IMAGE_EXTS = ['.jpg', '.jpeg', '.png'];
const PIXELS = INPUT_SIZE * INPUT_SIZE;

export class DataError extends Error {}

export interface LoadOptions {
  usage?: Usage;
  strict?: boolean;
  /** Called for each skipped row/file (default: nothing; the CLI prints them). */
  onProblem?: (message: string) => void;
}

export interface FerDataset {
  /** One 48x48 uint8 face per item. */
  images: Uint8Array[];
  labels: number[];
  /** `file` or `file:line` of each item. */
  sources: string[];
  skipped: number;
}

class Collector {
  readonly data: FerDataset = { images: [], labels: [], sources: [], skipped: 0 };
  constructor(private readonly opts: LoadOptions) {}
  problem(message: string): void {
    if (this.opts.strict) throw new DataError(message);
    this.data.skipped++;
    this.opts.onProblem?.(message);
  }
  add(image: Uint8Array, label: number, source: string): void {
    this.data.images.push(image);
    this.data.labels.push(label);
    this.data.sources.push(source);
  }
}

/** Decode an encoded image (JPEG/PNG/...) to the 48x48 grayscale contract. */
export async function decodeFace(input: Buffer | string): Promise<Uint8Array> {
  const { data, info } = await sharp(input, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
  let gray: Uint8Array;
  if (info.channels === 1 || info.channels === 2) {
    gray = info.channels === 1 ? new Uint8Array(data.buffer, data.byteOffset, data.length) : stripAlpha(data);
  } else {
    gray = toGray(data, info.width, info.height, 'rgb', info.channels);
  }
  return areaResize(gray, info.width, info.height);
}

function stripAlpha(data: Buffer): Uint8Array {
  const out = new Uint8Array(data.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = data[i * 2];
  return out;
}

export async function loadFerCsv(path: string, opts: LoadOptions = {}): Promise<FerDataset> {
  if (opts.usage && !USAGES.includes(opts.usage)) {
    throw new DataError(`unknown usage '${opts.usage}' (expected one of ${USAGES.join(', ')})`);
  }
  const c = new Collector(opts);
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  let ie = -1;
  let ip = -1;
  let iu = -1;
  let width = 0;
  try {
    for await (const raw of lines) {
      n++;
      const line = raw.trim();
      if (n === 1) {
        const header = line.split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
        ie = header.indexOf('emotion');
        ip = header.indexOf('pixels');
        iu = header.indexOf('Usage');
        width = header.length;
        for (const [col, i] of [['emotion', ie], ['pixels', ip]] as const) {
          if (i < 0) throw new DataError(`${path}:1: missing column '${col}' (header is ${header.join(',')})`);
        }
        if (opts.usage && iu < 0) throw new DataError(`${path}:1: missing column 'Usage' needed to select ${opts.usage}`);
        continue;
      }
      if (!line) continue;
      const where = `${path}:${n}`;
      const row = line.split(',').map((f) => f.trim().replace(/^"|"$/g, ''));
      if (row.length < width) {
        c.problem(`${where}: expected ${width} fields, got ${row.length}`);
        continue;
      }
      if (iu >= 0 && !(USAGES as readonly string[]).includes(row[iu])) {
        c.problem(`${where}: unknown Usage '${row[iu]}'`);
        continue;
      }
      if (opts.usage && row[iu] !== opts.usage) continue;
      const label = /^\d+$/.test(row[ie]) ? Number(row[ie]) : -1;
      if (label < 0 || label >= LABEL_NAMES.length) {
        c.problem(`${where}: unknown emotion label '${row[ie]}' (expected 0..6)`);
        continue;
      }
      const parts = row[ip].split(/\s+/).filter(Boolean);
      if (parts.length !== PIXELS) {
        c.problem(`${where}: expected ${PIXELS} pixels, got ${parts.length}`);
        continue;
      }
      const img = new Uint8Array(PIXELS);
      let ok = true;
      for (let i = 0; i < PIXELS; i++) {
        const v = /^\d{1,3}$/.test(parts[i]) ? Number(parts[i]) : -1;
        if (v < 0 || v > 255) {
          ok = false;
          break;
        }
        img[i] = v;
      }
      if (!ok) {
        c.problem(`${where}: pixels must be integers 0..255`);
        continue;
      }
      c.add(img, label, where);
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: cannot read (${(err as Error).message})`);
  }
  if (n === 0) throw new DataError(`${path}: empty file`);
  if (!c.data.images.length) throw new DataError(`${path}: no usable rows${opts.usage ? ` with Usage=${opts.usage}` : ''}`);
  return c.data;
}

export async function loadFerFolder(root: string, opts: LoadOptions = {}): Promise<FerDataset> {
  const c = new Collector(opts);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => {
    throw new DataError(`${root}: not a folder`);
  });
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (!dirs.length) throw new DataError(`${root}: no label folders (expected ${LABEL_NAMES.join(', ')})`);
  for (const name of dirs) {
    const label = (LABEL_NAMES as readonly string[]).indexOf(name);
    if (label < 0) {
      c.problem(`${join(root, name)}: unknown label folder '${name}'`);
      continue;
    }
    const files = (await readdir(join(root, name))).sort();
    const jobs: Promise<void>[] = [];
    const decoded: (Uint8Array | null)[] = new Array(files.length).fill(null);
    const errors: (string | null)[] = new Array(files.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        const path = join(root, name, files[i]);
        if (!IMAGE_EXTS.some((e) => files[i].toLowerCase().endsWith(e))) {
          errors[i] = `${path}: not an image file (expected .jpg or .png)`;
          continue;
        }
        try {
          decoded[i] = await decodeFace(await readFile(path));
        } catch (err) {
          errors[i] = `${path}: unreadable image (${(err as Error).message.split('\n')[0]})`;
        }
      }
    };
    for (let k = 0; k < 8; k++) jobs.push(worker());
    await Promise.all(jobs);
    for (let i = 0; i < files.length; i++) {
      if (errors[i]) c.problem(errors[i]!);
      else if (decoded[i]) c.add(decoded[i]!, label, join(root, name, files[i]));
    }
  }
  if (!c.data.images.length) throw new DataError(`${root}: no images found`);
  return c.data;
}

/** A `.csv` file or a split folder. */
export async function loadFer(source: string, opts: LoadOptions = {}): Promise<FerDataset> {
  const s = await stat(source).catch(() => null);
  if (s?.isFile() && source.toLowerCase().endsWith('.csv')) return loadFerCsv(source, opts);
  if (s?.isDirectory()) return loadFerFolder(source, opts);
  throw new DataError(`${source}: not a .csv file or a folder`);
}
