/**
 * npm run evaluate -- --data <folder-or-csv> [--usage PublicTest|PrivateTest|Training] [--model <onnx>]
 *                     [--manifest <json>] [--level-passes N] [--provider cpu|cuda|webgpu] [--batch N] [--strict] [--json]
 *
 * Scores an expression model (input [N,1,48,48] -> logits [N,7]) on FER-2013 with the same preprocessing the server
 * uses. Terminal: accuracy, per-class precision/recall/F1/support, macro-F1 and the confusion matrix.
 * --json: stdout is exactly one JSON object; progress and warnings go to stderr.
 *
 * A model trained on faces with their eyes levelled (its manifest says `general.crop.levelEyes`; the manifest is the
 * models folder's manifest.json above the model's own folder, or --manifest) is served levelled crops, so it is scored
 * on the test faces levelled as its training faces were (scripts/fer-leveller.ts, `general.ferLevelling.passes`
 * passes): the figure is the one the server's crop contract gives, without a levelled copy of the test set on disk.
 * --level-passes N overrides the manifest (0: the original faces), for analysis only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { LABEL_NAMES } from '../src/contracts/labels';
import { DataError, USAGES, Usage, loadFer } from '../src/inference/fer-dataset';
import { softmaxInPlace } from '../src/inference/labels';
import { evaluatePredictions, formatReport } from '../src/inference/metrics';
import { ExecutionProviderError, ModelSession, OrtSessionFactory } from '../src/inference/ort.sessions';
import { ferLevelPasses, MAX_LEVEL_PASSES } from '../src/inference/model-crop';
import { INPUT_SIZE, writeInput } from '../src/inference/preprocess';
import { FerLeveller, type LevelledFace, levellingCounts } from './fer-leveller';

const PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;
/** Faces per detector run when levelling: scripts/align-fer.ts's default batch, so both level a set alike. */
const LEVEL_BATCH = 32;

function flipFace(face: Uint8Array): Uint8Array {
  const out = new Uint8Array(face.length);
  for (let y = 0; y < INPUT_SIZE; y++) {
    for (let x = 0; x < INPUT_SIZE; x++) out[y * INPUT_SIZE + x] = face[y * INPUT_SIZE + INPUT_SIZE - 1 - x];
  }
  return out;
}

/** How many levelling passes the test faces get: --level-passes, else the model's manifest (0 when it has none). */
function levelPasses(modelPath: string, manifestArg: string | undefined, override: string | undefined): number {
  if (override !== undefined) {
    const n = Number(override);
    if (!Number.isInteger(n) || n < 0 || n > MAX_LEVEL_PASSES) fail(`--level-passes must be an integer 0..${MAX_LEVEL_PASSES}`);
    return n;
  }
  // models/general/expression.onnx -> models/manifest.json (scripts/export.py writes it there)
  const path = manifestArg ? resolve(manifestArg) : join(dirname(dirname(modelPath)), 'manifest.json');
  if (!existsSync(path)) {
    if (manifestArg) fail(`--manifest ${path}: no such file`);
    return 0;
  }
  try {
    return ferLevelPasses(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (err) {
    if (err instanceof SyntaxError) fail(`${path}: not JSON (${err.message})`);
    fail((err as Error).message); // ModelCropError names the file and the field
  }
}

/** The faces levelled in detector batches, with progress on stderr. */
async function levelFaces(faces: Uint8Array[], passes: number, log: (s: string) => void): Promise<LevelledFace[]> {
  const leveller = await FerLeveller.open(passes);
  const out: LevelledFace[] = [];
  try {
    for (let i = 0; i < faces.length; i += LEVEL_BATCH) {
      out.push(...(await leveller.level(faces.slice(i, i + LEVEL_BATCH))));
      log(`\rlevelling ${out.length}/${faces.length} faces`);
    }
  } finally {
    await leveller.release();
  }
  log('\n');
  return out;
}

function fail(message: string, code = 2): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        data: { type: 'string' },
        usage: { type: 'string' },
        model: { type: 'string', default: 'models/general/expression.onnx' },
        manifest: { type: 'string' },
        'level-passes': { type: 'string' },
        provider: { type: 'string', default: 'cpu' },
        batch: { type: 'string', default: '256' },
        strict: { type: 'boolean', default: false },
        tta: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\nusage: npm run evaluate -- --data <folder-or-csv> [--usage PublicTest] [--model m.onnx] [--provider cpu] [--json]`);
  }
  if (args.help || !args.data) {
    process.stderr.write(
      'usage: npm run evaluate -- --data <folder-or-csv> [--usage PublicTest|PrivateTest|Training] [--model <onnx>] [--manifest <json>] [--level-passes N] [--provider cpu|cuda|tensorrt|webgpu] [--batch N] [--strict] [--tta] [--json]\n',
    );
    process.exit(args.help ? 0 : 2);
  }
  if (args.usage && !(USAGES as readonly string[]).includes(args.usage)) fail(`--usage must be one of ${USAGES.join(', ')}`);
  if (!(PROVIDERS as readonly string[]).includes(args.provider!)) fail(`--provider must be one of ${PROVIDERS.join(', ')}`);
  // The server's session factory: same provider checks and messages; its logs must not reach stdout (--json).
  Logger.overrideLogger(['error']);
  let sessions: OrtSessionFactory;
  try {
    sessions = new OrtSessionFactory({ EXECUTION_PROVIDER: args.provider as (typeof PROVIDERS)[number], ORT_THREADS: 0 });
  } catch (err) {
    if (err instanceof ExecutionProviderError) fail(err.message);
    throw err;
  }
  const batch = Number(args.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 4096) fail('--batch must be an integer 1..4096');
  const log = (s: string) => process.stderr.write(s);
  const modelPath = resolve(args.model!);
  const passes = levelPasses(modelPath, args.manifest, args['level-passes']);

  let session: ModelSession;
  try {
    session = await sessions.create(modelPath);
  } catch (err) {
    fail((err as Error).message);
  }
  const t0 = performance.now();
  log(`loading ${args.data} ...\n`);
  let data;
  try {
    // CSV default usage is PublicTest: evaluation must not silently score training rows.
    const usage = (args.usage ?? (args.data.toLowerCase().endsWith('.csv') ? 'PublicTest' : undefined)) as Usage | undefined;
    data = await loadFer(args.data, { usage, strict: args.strict, onProblem: (m) => log(`warning: ${m} (skipped)\n`) });
  } catch (err) {
    if (err instanceof DataError) fail(err.message);
    throw err;
  }
  if (data.skipped) log(`skipped ${data.skipped} bad rows/files\n`);
  const tDecode = performance.now();
  let levelling: ReturnType<typeof levellingCounts> & { passes: number } | undefined;
  if (passes > 0) {
    const outcomes = await levelFaces(data.images, passes, log);
    data.images = outcomes.map((o) => o.face);
    levelling = { passes, ...levellingCounts(outcomes) };
    log(`levelled ${levelling.levelled} of ${levelling.faces} faces (${passes} pass${passes > 1 ? 'es' : ''}; ${levelling.withoutFace} without a face, ${levelling.leftUnrotated} left unrotated)\n`);
  }
  const tLoad = performance.now();

  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const predicted = new Array<number>(data.images.length);
  const k = LABEL_NAMES.length;
  const px = INPUT_SIZE * INPUT_SIZE;
  for (let start = 0; start < data.images.length; start += batch) {
    const n = Math.min(batch, data.images.length - start);
    const views = args.tta ? 2 : 1;
    const input = new Float32Array(views * n * px);
    for (let i = 0; i < n; i++) writeInput(data.images[start + i], input, i);
    if (args.tta) for (let i = 0; i < n; i++) writeInput(flipFace(data.images[start + i]), input, n + i);
    const out = await session.run({ [inputName]: { data: input, dims: [views * n, 1, INPUT_SIZE, INPUT_SIZE] } });
    let logits = out[outputName].data;
    if (logits.length !== views * n * k) fail(`model output has ${logits.length / n / views} values per image, expected ${k}`);
    if (args.tta) {
      // average the probabilities of the image and its mirror image
      const p = softmaxInPlace(Float32Array.from(logits), views * n);
      logits = new Float32Array(n * k);
      for (let j = 0; j < n * k; j++) logits[j] = p[j] + p[n * k + j];
    }
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
      predicted[start + i] = best;
    }
    log(`\r${start + n}/${data.images.length} images`);
  }
  log('\n');
  const tEnd = performance.now();
  const report = evaluatePredictions(data.labels, predicted);
  const levelTime = levelling ? `, levelling ${((tLoad - tDecode) / 1000).toFixed(1)} s` : '';
  log(`decode ${((tDecode - t0) / 1000).toFixed(1)} s${levelTime}, inference ${((tEnd - tLoad) / 1000).toFixed(1)} s, total ${((tEnd - t0) / 1000).toFixed(1)} s (provider ${args.provider})\n`);
  if (args.json) {
    process.stdout.write(JSON.stringify({ ...report, model: modelPath, ...(levelling ? { levelling } : {}) }) + '\n');
  } else {
    const faces = levelling ? `faces levelled (${levelling.passes} pass${levelling.passes > 1 ? 'es' : ''}), as the model's training faces\n` : '';
    process.stdout.write(`model ${modelPath}\n${faces}${formatReport(report)}\n`);
  }
}

main().catch((err) => fail((err as Error).stack ?? String(err), 1));
