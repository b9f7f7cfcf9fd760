/**
 * Personalization benchmark: general head vs a per-subject fine-tuned head, on real people.
 *
 *   npm run bench:personalization -- --data ../shared/datasets/jaffe [--subjects N] [--json] [--dump faces.json]
 *   (= tsx scripts/bench-personalization.ts ...)
 *   npm run bench:personalization -- --timing ../shared/datasets/fer2013/test [--per-label 20] [--runs 3]
 *   (the speed target: one user with 7 labels x 20 faces (FER-2013 test crops, already 48x48) + the replay set)
 *
 * Layout: <root>/<subject>/{calibration,test}/<label>/<image>. Every image goes through the live path: YuNet finds
 * the face (highest score), cropFace() makes the 48x48 classifier input (eyes levelled when the models folder's manifest
 * says general.crop.levelEyes: subject-faces.ts modelCrop), trunk.onnx makes features. The subject's
 * head is fine-tuned on `calibration` (the same FinetuneTrainer the worker runs), both heads are scored on `test`.
 * Images where no face is found are counted in facesMissed and left out of both heads' accuracy.
 * finetuneSeconds = FinetuneTrainer.train() wall time: augmentation, trunk features of the variants, all steps
 * (sessions are created once, as in a warm worker).
 */
import { Logger } from '@nestjs/common';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FinetuneMetrics } from '../src/contracts/personalization';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { DEFAULT_FINETUNE, FinetuneOptions, FinetuneSample, FinetuneTrainer } from '../src/personalization/finetune/finetune.trainer';
import { generalAssetPaths, loadGeneralHead, loadReplay } from '../src/personalization/finetune/general-assets';
import { openTrainingSessions, trainingFactory, TRAINING_SPIN } from '../src/personalization/finetune/finetune.sessions';
import { argmaxRows, headTensors } from '../src/inference/heads/head-forward';
import { blendLogits, gateLogits, probabilities } from '../src/personalization/finetune/blend';
import { nearestLikeness } from '../src/personalization/finetune/likeness';
import { DEFAULT_PERSONAL_GATE } from '../src/config';
import { LABEL_NAMES } from '../src/contracts/labels';
import sharp from 'sharp';
import { parsedOrFail } from './cli';
import { Face, loadFaces, modelCrop, openSubjectDetector, subjectDirs } from './subject-faces';

interface Args {
  data: string;
  timing: string;
  perLabel: number;
  runs: number;
  subjects: number;
  /** only these subjects (comma-separated ids) */
  only: string[] | null;
  json: boolean;
  models: string;
  threads: number;
  /** --seeds 1,2,3: every subject fine-tuned once per seed; means over the seeds (the trunk-comparison protocol) */
  seeds: number[] | null;
  /** --blend-sweep: also score every fixed blend weight w = 0, 0.1, …, 1 with the same heads (analysis, issue 17 §3) */
  blendSweep: boolean;
  /** --gate TAU: the per-face gate the server applies (PERSONAL_GATE; 1 = off) */
  gate: number;
  /** --dump FILE: every test face's label, both heads' probabilities and its likeness to the calibration faces, per subject and seed (JSON; offline analysis) */
  dump: string;
  options: Partial<FinetuneOptions>;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { data: '', timing: '', perLabel: 20, runs: 3, subjects: Infinity, only: null, json: false, models: resolve(__dirname, '..', 'models'), threads: 2, seeds: null, blendSweep: false, dump: '', gate: DEFAULT_PERSONAL_GATE, options: {} };
  const num = (i: number) => {
    const v = Number(argv[i]);
    if (!Number.isFinite(v)) throw new Error(`${argv[i - 1]} needs a number, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--data') a.data = argv[++i];
    else if (k === '--subjects') a.subjects = num(++i);
    else if (k === '--only') a.only = argv[++i].split(',');
    else if (k === '--timing') a.timing = argv[++i];
    else if (k === '--per-label') a.perLabel = num(++i);
    else if (k === '--runs') a.runs = num(++i);
    else if (k === '--json') a.json = true;
    else if (k === '--blend-sweep') a.blendSweep = true;
    else if (k === '--dump') a.dump = resolve(argv[++i] ?? '');
    else if (k === '--gate') {
      a.gate = num(++i);
      if (a.gate < 0.5 || a.gate > 1) throw new Error(`--gate needs a number from 0.5 to 1 (1 = off), got ${argv[i]}`);
    }
    else if (k === '--models') a.models = resolve(argv[++i]);
    else if (k === '--threads') a.threads = num(++i);
    else if (k === '--epochs') a.options.epochs = num(++i);
    else if (k === '--lr') a.options.lr = num(++i);
    else if (k === '--replay-cap') a.options.replayCap = num(++i);
    else if (k === '--replay-weight') a.options.replayWeight = num(++i);
    else if (k === '--rows') a.options.targetUserRows = num(++i);
    else if (k === '--seed') a.options.seed = num(++i);
    else if (k === '--seeds') {
      a.seeds = (argv[++i] ?? '').split(',').map((v) => Number(v));
      if (a.seeds.length === 0 || a.seeds.some((v) => !Number.isInteger(v))) throw new Error(`--seeds needs comma-separated integers, got ${argv[i]}`);
    }
    else if (k === '--user-batch') a.options.userPerBatch = num(++i);
    else if (k === '--replay-batch') a.options.replayPerBatch = num(++i);
    else if (k === '--patience') a.options.patience = num(++i);
    else if (k === '--cv-folds') a.options.cvFolds = num(++i);
    else if (k === '--cv-epochs') a.options.cvEpochs = num(++i);
    else if (k === '--augment-strength') {
      // analysis only (MODEL.md, "Why the larger trunks personalise worse"): the trainer's augmentation ranges times k
      const f = num(++i);
      if (f < 0) throw new Error(`--augment-strength needs a number >= 0, got ${argv[i]}`);
      const d = DEFAULT_FINETUNE.augment;
      a.options.augment = { ...d, rotate: d.rotate * f, scale: d.scale * f, shift: d.shift * f, brightness: d.brightness * f, contrast: d.contrast * f };
    }
    else if (k === '--help' || k === '-h') {
      console.log('usage: bench-personalization --data <root> [--subjects N] [--only id,id] [--json] [--models dir] [--threads n] [--epochs n] [--lr x] [--replay-cap n] [--replay-weight x] [--rows n] [--seed n | --seeds 1,2,3] [--blend-sweep] [--gate tau (1 = off)] [--dump file.json] [--user-batch n] [--replay-batch n] [--patience n] [--cv-folds n (0 = no blend)] [--cv-epochs n] [--augment-strength k]');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.data && !a.timing) throw new Error('--data <root> (or --timing <fer2013 split>) is required');
  if (a.seeds && a.options.seed !== undefined) throw new Error('give --seed or --seeds, not both');
  return a;
}

function accuracy(logits: Float32Array, faces: Face[]): number {
  const pred = argmaxRows(logits, faces.length);
  let ok = 0;
  faces.forEach((f, i) => (ok += pred[i] === f.label ? 1 : 0));
  return faces.length ? ok / faces.length : NaN;
}

async function main(): Promise<void> {
  const args = parsedOrFail(() => parseArgs(process.argv.slice(2)));
  Logger.overrideLogger(['error']);
  const paths = generalAssetPaths(args.models);
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: args.threads });
  const detector = await openSubjectDetector(factory, args.models);
  // the fine-tune worker's sessions, built the way the worker builds them (finetune.sessions.ts)
  const sessions = await openTrainingSessions(trainingFactory({ EXECUTION_PROVIDER: 'cpu', threads: args.threads, spin: TRAINING_SPIN }), paths);
  const { trunk, step, forward } = sessions;
  const general = loadGeneralHead(paths.head);
  const generalT = headTensors(general);
  const replay = loadReplay(paths.replay, paths.replayMeta);
  const trainer = new FinetuneTrainer({ trunk, step, forward });

  if (args.timing) {
    await timing(args, trainer, general, replay);
    await Promise.all([detector.release(), sessions.release()]);
    return;
  }
  const subjects = subjectDirs(args.data).filter((d) => !args.only || args.only.includes(d)).slice(0, args.subjects);
  // faces cut the way the model was trained: eyes levelled for a model trained on levelled faces (its manifest)
  const crop = modelCrop(args.models);
  /** One fine-tune of one subject with one seed. */
  type Run = {
    seed: number;
    /** the personal model as served: w·personal + (1−w)·general (blend.ts) */
    personal: number;
    /** the personal head alone (w = 1, what was served before the blend) */
    personalHead: number;
    blend: number;
    /** test faces right: personal (as served) minus general; the bar is >= -1 */
    deltaFaces: number;
    finetuneSeconds: number;
    /** with --cv-folds: the held-out calibration faces the blend was chosen on (faces; right with general, personal, blend) */
    blendCheck?: FinetuneMetrics['blendCheck'];
    /** --blend-sweep: test faces right minus general's for each fixed w in SWEEP (same heads, only the weight differs) */
    sweepDeltaFaces?: number[];
  };
  /** A subject: with one seed its run's figures; with --seeds the means over its runs (deltaFaces too), and each run. */
  type Row = Omit<Run, 'seed' | 'sweepDeltaFaces' | 'blendCheck'> & { id: string; general: number; calibration: number; test: number; runs?: Run[]; sweepDeltaFaces?: number[] };
  const seeds = args.seeds ?? [args.options.seed ?? DEFAULT_FINETUNE.seed];
  const rows: Row[] = [];
  const dumped: DumpedRun[] = [];
  let facesMissed = 0;
  for (const id of subjects) {
    const cal = await loadFaces(join(args.data, id, 'calibration'), detector, crop);
    const test = await loadFaces(join(args.data, id, 'test'), detector, crop);
    facesMissed += cal.missed + test.missed;
    if (cal.faces.length === 0 || test.faces.length === 0) {
      if (!args.json) console.log(`${id}: skipped (calibration faces ${cal.faces.length}, test faces ${test.faces.length})`);
      continue;
    }
    const n = test.faces.length;
    const testFeatures = await trunk.features(test.faces.map((f) => f.face));
    const generalLogits = await forward.run(generalT, testFeatures, n);
    const g = accuracy(generalLogits, test.faces);
    // --dump: each test face's likeness to the subject's calibration faces (the same on every seed: computed once)
    const likeness = args.dump ? Array.from(nearestLikeness(testFeatures, n, await trunk.features(cal.faces.map((f) => f.face)), cal.faces.length), r6) : [];
    const runs: Run[] = [];
    const samples: FinetuneSample[] = cal.faces;
    for (const seed of seeds) {
      const t0 = performance.now();
      const result = await trainer.train(samples, general, replay, { ...args.options, seed });
      const seconds = (performance.now() - t0) / 1000;
      const personalLogits = await forward.run(headTensors(result.weights), testFeatures, n);
      const w = result.metrics.blend ?? 1;
      const ph = accuracy(personalLogits, test.faces);
      // the way the server scores a personal face (ModelRegistry's runner): the blend of both heads' probabilities,
      // then the per-face gate (faces the general head is at least PERSONAL_GATE sure of keep its scores)
      const served = (weight: number) => gateLogits(generalLogits, blendLogits(generalLogits, personalLogits, n, weight), n, args.gate);
      const p = accuracy(served(w), test.faces);
      const run: Run = { seed, personal: round(p), personalHead: round(ph), blend: w, deltaFaces: Math.round((p - g) * n), finetuneSeconds: round(seconds, 2) };
      if (result.metrics.blendCheck) run.blendCheck = result.metrics.blendCheck;
      if (args.dump) {
        dumped.push({ id, seed, w, labels: test.faces.map((f) => f.label), general: Array.from(probabilities(generalLogits, n), r6), personal: Array.from(probabilities(personalLogits, n), r6), likeness });
      }
      if (args.blendSweep) run.sweepDeltaFaces = SWEEP.map((sw) => Math.round((accuracy(served(sw), test.faces) - g) * n));
      runs.push(run);
      if (!args.json) {
        const miss = cal.missed + test.missed ? `  missed ${cal.missed + test.missed}` : '';
        console.log(
          `${id.padEnd(6)} ${seeds.length > 1 ? `seed ${seed}  ` : ''}general ${pct(g)}  personal ${pct(p)}  (${p >= g ? '+' : ''}${((p - g) * 100).toFixed(1)}, ${run.deltaFaces >= 0 ? '+' : ''}${run.deltaFaces} faces)  w ${w.toFixed(1)}  head alone ${pct(ph)}  calibration ${cal.faces.length}  test ${n}  fine-tune ${seconds.toFixed(2)} s  epochs ${result.metrics.epochs}${miss}`,
        );
      }
    }
    const avg = (k: keyof Omit<Run, 'seed' | 'sweepDeltaFaces' | 'blendCheck'>, digits = 4) => round(runs.reduce((sum, r) => sum + r[k], 0) / runs.length, digits);
    rows.push({
      id,
      general: round(g),
      personal: avg('personal'),
      personalHead: avg('personalHead'),
      blend: avg('blend', 2),
      deltaFaces: avg('deltaFaces', 2),
      calibration: cal.faces.length,
      test: n,
      finetuneSeconds: avg('finetuneSeconds', 2),
      ...(seeds.length > 1 ? { runs } : runs[0].blendCheck ? { blendCheck: runs[0].blendCheck } : {}),
      ...(args.blendSweep ? { sweepDeltaFaces: SWEEP.map((_, j) => round(runs.reduce((sum, r) => sum + r.sweepDeltaFaces![j], 0) / runs.length, 2)) } : {}),
    });
  }
  const mean = (k: 'general' | 'personal' | 'personalHead' | 'finetuneSeconds' | 'blend') => rows.reduce((s, r) => s + r[k], 0) / Math.max(1, rows.length);
  const worse = rows.filter((r) => r.personal < r.general).length;
  const worseByMore = rows.filter((r) => r.deltaFaces < -1).length;
  const summary = {
    general: round(mean('general')),
    personal: round(mean('personal')),
    personalHead: round(mean('personalHead')),
    blend: round(mean('blend'), 2),
    worse,
    worseByMoreThanOneFace: worseByMore,
    minDeltaFaces: Math.min(...rows.map((r) => r.deltaFaces)),
    finetuneSeconds: round(mean('finetuneSeconds'), 2),
    // with --seeds: the mean personal accuracy over the subjects, for each seed (how much one draw moves it)
    ...(seeds.length > 1
      ? { seeds, personalPerSeed: seeds.map((_, i) => round(rows.reduce((s, r) => s + r.runs![i].personal, 0) / Math.max(1, rows.length))) }
      : {}),
  };
  // --blend-sweep: per fixed w, the mean accuracy (general + mean Δ / test faces) and the subjects below general by > 1 face
  const sweep = args.blendSweep
    ? SWEEP.map((w, j) => ({
        w,
        personal: round(rows.reduce((sum, r) => sum + r.general + r.sweepDeltaFaces![j] / r.test, 0) / Math.max(1, rows.length)),
        worseByMoreThanOneFace: rows.filter((r) => r.sweepDeltaFaces![j] < -1).map((r) => r.id),
      }))
    : undefined;
  if (sweep && !args.json) {
    console.log('\nfixed blend weight w (same heads): mean personal accuracy, subjects worse than general by more than one face');
    for (const row of sweep) console.log(`  w ${row.w.toFixed(1)}  ${pct(row.personal)}  ${row.worseByMoreThanOneFace.join(', ') || '-'}`);
  }
  if (args.json) {
    console.log(JSON.stringify({ subjects: rows, mean: summary, ...(sweep ? { sweep } : {}), facesMissed, levelEyes: crop.levelEyes === true, gate: args.gate, options: { ...DEFAULT_FINETUNE, ...args.options, augment: undefined } }));
  } else {
    const over = seeds.length > 1 ? ` (means over seeds ${seeds.join(', ')}: ${summary.personalPerSeed!.map(pct).join(' / ')}; Δ per subject averaged)` : '';
    console.log(
      `\nmean over ${rows.length} subjects: general ${pct(mean('general'))}  personal ${pct(mean('personal'))}  (+${((mean('personal') - mean('general')) * 100).toFixed(1)} points)  head alone ${pct(mean('personalHead'))}  mean w ${summary.blend}${over}\n` +
        `worse than general: ${worse} of ${rows.length} (by more than one face: ${worseByMore})   faces missed: ${facesMissed}   mean fine-tune: ${mean('finetuneSeconds').toFixed(2)} s\n` +
        `gate ${args.gate}${args.gate >= 1 ? ' (off)' : ''}   options: ${JSON.stringify({ ...DEFAULT_FINETUNE, ...args.options, augment: undefined })}`,
    );
  }
  if (args.dump) writeFileSync(args.dump, JSON.stringify({ classes: LABEL_NAMES, runs: dumped }));
  await Promise.all([detector.release(), sessions.release()]);
}

/** --dump's record of one fine-tune: test labels, both heads' probabilities (n x 7, row-major), w as chosen, likeness. */
interface DumpedRun {
  id: string;
  seed: number;
  w: number;
  labels: number[];
  general: number[];
  personal: number[];
  /** per test face, the largest cosine similarity of its trunk features to a calibration face's (likeness.ts) */
  likeness: number[];
}
const r6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** Fine-tune time for one user with perLabel faces of each label (48x48 FER-2013 crops: no detection needed). */
async function timing(args: Args, trainer: FinetuneTrainer, general: ReturnType<typeof loadGeneralHead>, replay: ReturnType<typeof loadReplay>): Promise<void> {
  const samples: FinetuneSample[] = [];
  for (const [label, name] of LABEL_NAMES.entries()) {
    for (const file of readdirSync(join(args.timing, name)).sort().slice(0, args.perLabel)) {
      const { data, info } = await sharp(join(args.timing, name, file)).greyscale().raw().toBuffer({ resolveWithObject: true });
      if (info.width !== 48 || info.height !== 48) throw new Error(`${file}: not 48x48`);
      samples.push({ label, face: new Uint8Array(data) });
    }
  }
  const runs: { seconds: number; cpuSeconds: number; epochs: number; heldOut: number; general: number | null; personal: number | null }[] = [];
  for (let r = 0; r < args.runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const res = await trainer.train(samples, general, replay, { ...args.options, seed: (args.options.seed ?? 1) + r });
    const c = process.cpuUsage(c0);
    const m = res.metrics;
    runs.push({ seconds: round((performance.now() - t0) / 1000, 2), cpuSeconds: round((c.user + c.system) / 1e6, 2), epochs: m.epochs, heldOut: m.heldOut, general: m.generalAccuracy, personal: m.personalAccuracy });
  }
  const secs = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const out = { samples: samples.length, replayCap: { ...DEFAULT_FINETUNE, ...args.options }.replayCap, runs, medianSeconds: secs[Math.floor(secs.length / 2)] };
  console.log(args.json ? JSON.stringify(out) : out);
}

/** --blend-sweep's fixed weights of the personal head: 0 (general alone) to 1 (personal head alone). */
const SWEEP = Array.from({ length: 11 }, (_, i) => i / 10);
const round = (v: number, d = 4) => Math.round(v * 10 ** d) / 10 ** d;
const pct = (v: number) => `${(v * 100).toFixed(1).padStart(5)}%`;

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
