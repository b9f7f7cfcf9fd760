/**
 * How well a trunk's features separate one person's expressions, with no fine-tune: per subject, the mean feature of
 * each label's calibration faces is that label's prototype, and every test face takes the label of the nearest
 * prototype (cosine). Compared across trunks, it says whether a trunk that personalises worse in
 * bench:personalization has worse features for this, or only a fine-tune that does worse on them (MODEL.md).
 *
 *   npx tsx scripts/probe-trunk-features.ts --data ../shared/datasets/jaffe --models models,/tmp/cand [--json]
 *
 * Two prototype rules: "raw" (L2-normalised features) and "centred" (the subject's mean calibration feature
 * subtracted first, so what every face of that person shares, identity and lighting, drops out). The general head's
 * accuracy on the same crops is printed beside them (it matches bench:personalization's "general"). "augmented":
 * the share of the fine-tune's augmented copies of each calibration photo (VARIANTS per photo, the trainer's
 * augmentFace and ranges) that its own label's prototype still claims (raw rule): how far the copies the personal
 * head is trained on drift in the trunk's features.
 */
import { Logger } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { FEATURES } from '../src/inference/heads/head-shape';
import { argmaxRows, headTensors } from '../src/inference/heads/head-forward';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { openTrainingSessions, trainingFactory, TRAINING_SPIN } from '../src/personalization/finetune/finetune.sessions';
import { augmentFace } from '../src/personalization/finetune/augment';
import { generalAssetPaths, loadGeneralHead } from '../src/personalization/finetune/general-assets';
import { Rng } from '../src/personalization/finetune/rng';
import { parsedOrFail } from './cli';
import { Face, loadFaces, modelCrop, openSubjectDetector, subjectDirs } from './subject-faces';

/** Augmented copies per calibration photo for the "augmented" figure (seeded: every trunk sees the same copies). */
const VARIANTS = 8;

interface Args {
  data: string;
  models: string[];
  json: boolean;
  threads: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { data: '', models: [], json: false, threads: 2 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--data') a.data = resolve(argv[++i] ?? '');
    else if (k === '--models') a.models = (argv[++i] ?? '').split(',').filter(Boolean).map((m) => resolve(m));
    else if (k === '--threads') a.threads = Number(argv[++i]);
    else if (k === '--json') a.json = true;
    else if (k === '--help' || k === '-h') {
      console.log('usage: probe-trunk-features --data <per-subject root> --models <models dir>[,<models dir>…] [--threads n] [--json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.data || a.models.length === 0) throw new Error('--data <root> and --models <dir>[,<dir>…] are required');
  if (!Number.isInteger(a.threads) || a.threads < 1) throw new Error('--threads needs a positive integer');
  return a;
}

/** Rows of `features` (n x FEATURES) minus `centre` (or not), each scaled to unit length. */
function unitRows(features: Float32Array, n: number, centre: Float32Array | null): Float32Array {
  const out = new Float32Array(n * FEATURES);
  for (let r = 0; r < n; r++) {
    let norm = 0;
    for (let j = 0; j < FEATURES; j++) {
      const v = features[r * FEATURES + j] - (centre ? centre[j] : 0);
      out[r * FEATURES + j] = v;
      norm += v * v;
    }
    const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < FEATURES; j++) out[r * FEATURES + j] *= s;
  }
  return out;
}

function meanRow(features: Float32Array, n: number): Float32Array {
  const m = new Float32Array(FEATURES);
  for (let r = 0; r < n; r++) for (let j = 0; j < FEATURES; j++) m[j] += features[r * FEATURES + j] / n;
  return m;
}

/** Test faces right when each takes the label of the nearest calibration prototype (cosine). */
function prototypeHits(cal: Float32Array, calLabels: number[], test: Float32Array, testLabels: number[], centred: boolean): number {
  const centre = centred ? meanRow(cal, calLabels.length) : null;
  const c = unitRows(cal, calLabels.length, centre);
  const t = unitRows(test, testLabels.length, centre);
  // each label's prototype: the sum of its unit calibration rows, scaled to unit length once
  const labels = [...new Set(calLabels)];
  const sums = new Float32Array(labels.length * FEATURES);
  calLabels.forEach((label, r) => {
    const k = labels.indexOf(label);
    for (let j = 0; j < FEATURES; j++) sums[k * FEATURES + j] += c[r * FEATURES + j];
  });
  const protos = unitRows(sums, labels.length, null);
  let hits = 0;
  testLabels.forEach((label, r) => {
    let best = -1;
    let bestScore = -Infinity;
    labels.forEach((l, k) => {
      let dot = 0;
      for (let j = 0; j < FEATURES; j++) dot += protos[k * FEATURES + j] * t[r * FEATURES + j];
      if (dot > bestScore) [best, bestScore] = [l, dot];
    });
    hits += best === label ? 1 : 0;
  });
  return hits;
}

async function main(): Promise<void> {
  const args = parsedOrFail(() => parseArgs(process.argv.slice(2)));
  Logger.overrideLogger(['error']);
  const detector = await openSubjectDetector(new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: args.threads }), args.models[0]);
  // each models folder's faces are cut the way its model was trained (modelCrop); folders that agree share them
  type Subject = { id: string; cal: Face[]; test: Face[] };
  const facesByCrop = new Map<string, Subject[]>();
  for (const models of args.models) {
    const rule = modelCrop(models);
    const key = JSON.stringify(rule);
    if (facesByCrop.has(key)) continue;
    const list: Subject[] = [];
    for (const id of subjectDirs(args.data)) {
      const cal = (await loadFaces(join(args.data, id, 'calibration'), detector, rule)).faces;
      const test = (await loadFaces(join(args.data, id, 'test'), detector, rule)).faces;
      if (cal.length && test.length) list.push({ id, cal, test });
    }
    facesByCrop.set(key, list);
  }
  await detector.release();
  const results = [];
  for (const models of args.models) {
    const subjects = facesByCrop.get(JSON.stringify(modelCrop(models)))!;
    const sessions = await openTrainingSessions(trainingFactory({ EXECUTION_PROVIDER: 'cpu', threads: args.threads, spin: TRAINING_SPIN }), generalAssetPaths(models));
    const head = headTensors(loadGeneralHead(generalAssetPaths(models).head));
    const hits = { general: 0, raw: 0, centred: 0, augmented: 0 };
    let faces = 0;
    let copies = 0;
    for (const s of subjects) {
      const cal = await sessions.trunk.features(s.cal.map((f) => f.face));
      const test = await sessions.trunk.features(s.test.map((f) => f.face));
      const [calLabels, testLabels] = [s.cal.map((f) => f.label), s.test.map((f) => f.label)];
      const pred = argmaxRows(await sessions.forward.run(head, test, s.test.length), s.test.length);
      hits.general += testLabels.filter((l, i) => pred[i] === l).length;
      hits.raw += prototypeHits(cal, calLabels, test, testLabels, false);
      hits.centred += prototypeHits(cal, calLabels, test, testLabels, true);
      faces += s.test.length;
      const rng = new Rng(1);
      const variants = s.cal.flatMap((f) => Array.from({ length: VARIANTS }, () => ({ label: f.label, face: augmentFace(f.face, rng) })));
      const variantFeatures = await sessions.trunk.features(variants.map((v) => v.face));
      hits.augmented += prototypeHits(cal, calLabels, variantFeatures, variants.map((v) => v.label), false);
      copies += variants.length;
    }
    await sessions.release();
    const acc = (h: number) => Math.round((h / faces) * 10000) / 10000;
    const row = {
      models,
      subjects: subjects.length,
      levelEyes: modelCrop(models).levelEyes === true,
      testFaces: faces,
      general: acc(hits.general),
      prototypesRaw: acc(hits.raw),
      prototypesCentred: acc(hits.centred),
      augmented: Math.round((hits.augmented / copies) * 10000) / 10000,
    };
    results.push(row);
    if (!args.json) console.log(`${models}: general ${(row.general * 100).toFixed(1)}%  prototypes raw ${(row.prototypesRaw * 100).toFixed(1)}%  centred ${(row.prototypesCentred * 100).toFixed(1)}%  augmented ${(row.augmented * 100).toFixed(1)}%  (${faces} test faces, ${subjects.length} subjects)`);
  }
  if (args.json) console.log(JSON.stringify({ data: args.data, results }, null, 2));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
