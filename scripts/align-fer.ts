/**
 * A levelled copy of a set of FER-2013-style 48x48 faces (issue 17, "aligned faces"), levelled by scripts/fer-leveller.ts
 * (every face enlarged onto a mid-gray canvas, found by the pipeline's YuNet, rotated about its centre by the eye angle
 * with the function the live crop uses; faces not found, or read beyond MAX_LEVEL_DEGREES, written unrotated) — the
 * same levelling `npm run evaluate` applies to a test set for a model trained on such faces. The output keeps the layout and file
 * stems (`<out>/<label>/<stem>.png`, lossless), so scripts/train.py and `npm run evaluate` read it as they read the
 * original, and train.py's validation slice holds the same faces. A report (`<out>/align-report.json`): how many were
 * levelled, found without a face or left unrotated, the first read angles' distribution (and with --passes > 1 the
 * applied turns').
 *
 * --passes N: on 48 px faces YuNet's landmarks read back only ~40% of a tilt (scripts/bench/level-eyes-readback.ts),
 * while on a camera frame's larger faces they read nearly all of it; each further pass reads what is left on the face
 * turned by the sum so far (measured on a 20° turn, 235 faces: 1 pass 0.43, 2 passes 0.72, 3 passes 0.85, 4 passes 0.92
 * of it read back: scripts/bench/level-eyes-readback.ts --passes 4).
 *
 *   npx tsx scripts/align-fer.ts --data ../shared/datasets/fer2013/train --out /work/runs/fer-level/train [--passes 3]
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, parse, resolve } from 'node:path';
import sharp from 'sharp';
import { LABEL_NAMES } from '../src/contracts/labels';
import { MAX_LEVEL_DEGREES } from '../src/inference/level-eyes';
import { MAX_LEVEL_PASSES } from '../src/inference/model-crop';
import { INPUT_SIZE } from '../src/inference/preprocess';
import { cliArgs, fail, numberArg } from './cli';
import { FerLeveller, levellingCounts, type LevelledFace } from './fer-leveller';

const USAGE = 'npx tsx scripts/align-fer.ts --data <folder of <label>/*.jpg|png 48x48 faces> --out <folder> [--passes 1] [--batch 32] [--limit N]';
const args = cliArgs(USAGE, {
  data: { type: 'string' },
  out: { type: 'string' },
  batch: { type: 'string', default: '32' },
  passes: { type: 'string', default: '1' },
  limit: { type: 'string' },
});

interface Item {
  label: string;
  file: string;
}

async function main(): Promise<void> {
  if (!args.data || !args.out) fail('--data and --out are required', USAGE);
  const batch = numberArg('batch', args.batch, { min: 1, max: 512, int: true });
  const passes = numberArg('passes', args.passes, { min: 1, max: MAX_LEVEL_PASSES, int: true });
  const data = resolve(args.data);
  const out = resolve(args.out);
  const items: Item[] = [];
  for (const label of LABEL_NAMES) {
    let files: string[];
    try {
      files = readdirSync(join(data, label)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
    } catch {
      continue;
    }
    for (const file of files) items.push({ label, file });
  }
  if (items.length === 0) fail(`${data}: no <label>/*.jpg|png faces (labels: ${LABEL_NAMES.join(', ')})`, USAGE);
  const list = args.limit ? items.filter((_, i) => i % Math.ceil(items.length / numberArg('limit', args.limit, { min: 1, int: true })) === 0) : items;
  // written to a sibling folder and renamed at the end: an interrupted run leaves no half-aligned set behind
  const staging = `${out}.partial`;
  for (const label of LABEL_NAMES) mkdirSync(join(staging, label), { recursive: true });

  const leveller = await FerLeveller.open(passes);
  const outcomes: Omit<LevelledFace, 'face'>[] = []; // the faces themselves go to disk batch by batch
  const started = Date.now();
  for (let i = 0; i < list.length; i += batch) {
    const chunk = list.slice(i, i + batch);
    const faces = await Promise.all(
      chunk.map(async ({ label, file }) => {
        const { data: px, info } = await sharp(join(data, label, file)).grayscale().raw().toBuffer({ resolveWithObject: true });
        if (info.width !== INPUT_SIZE || info.height !== INPUT_SIZE) fail(`${join(data, label, file)}: ${info.width}x${info.height}, expected ${INPUT_SIZE}x${INPUT_SIZE}`);
        return new Uint8Array(px);
      }),
    );
    const levelled = await leveller.level(faces);
    outcomes.push(...levelled.map(({ face: _face, ...outcome }) => outcome));
    await Promise.all(
      chunk.map(({ label, file }, j) =>
        sharp(Buffer.from(levelled[j].face), { raw: { width: INPUT_SIZE, height: INPUT_SIZE, channels: 1 } })
          .toColourspace('b-w')
          .png()
          .toFile(join(staging, label, `${parse(file).name}.png`)),
      ),
    );
    const done = Math.min(i + batch, list.length);
    if (done === list.length || Math.floor(done / 2000) !== Math.floor(i / 2000)) {
      process.stderr.write(`aligned ${done}/${list.length} (${levellingCounts(outcomes).withoutFace} without a face) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
  }
  await leveller.release();
  const degrees = (r: number | null) => (r === null ? [] : [(r * 180) / Math.PI]);
  const angles = outcomes.flatMap((o) => degrees(o.firstRead));
  const applied = outcomes.flatMap((o) => (o.rotated ? degrees(o.turn) : []));
  const counts = levellingCounts(outcomes);
  const spread = (values: number[]) => {
    const abs = values.map(Math.abs).sort((a, b) => a - b);
    const q = (p: number) => (abs.length ? Number(abs[Math.min(abs.length - 1, Math.floor(p * abs.length))].toFixed(2)) : null);
    return { median: q(0.5), p90: q(0.9), p99: q(0.99), max: abs.at(-1) ?? null, over10: abs.filter((a) => a > 10).length };
  };
  const report = {
    source: data,
    passes,
    faces: list.length,
    levelled: counts.levelled,
    withoutFace: counts.withoutFace,
    absAngleDegrees: spread(angles),
    ...(passes > 1 ? { absAppliedDegrees: spread(applied) } : {}),
    leftUnrotated: { beyondDegrees: MAX_LEVEL_DEGREES, faces: counts.leftUnrotated },
  };
  writeFileSync(join(staging, 'align-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  renameSync(staging, out);
  console.log(JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
