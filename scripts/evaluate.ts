/**
 * npm run evaluate -- --data <folder-or-csv> [--usage PublicTest|PrivateTest|Training] [--model <onnx>]
 *                     [--provider cpu|cuda|webgpu] [--batch N] [--strict] [--json]
 *
 * Scores an expression model (input [N,1,48,48] -> logits [N,7]) on FER-2013 with the same preprocessing the server
 * uses. Terminal: accuracy, per-class precision/recall/F1/support, macro-F1 and the confusion matrix.
 * --json: stdout is exactly one JSON object; progress and warnings go to stderr.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { LABEL_NAMES } from '../src/contracts/labels';
import { DataError, USAGES, Usage, loadFer } from '../src/inference/fer-dataset';
import { softmaxInPlace } from '../src/inference/labels';
import { evaluatePredictions, formatReport } from '../src/inference/metrics';
import { ExecutionProviderError, ModelSession, OrtSessionFactory } from '../src/inference/ort.sessions';
import { INPUT_SIZE, writeInput } from '../src/inference/preprocess';

const PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;

function flipFace(face: Uint8Array): Uint8Array {
  const out = new Uint8Array(face.length);
  for (let y = 0; y < INPUT_SIZE; y++) {
    for (let x = 0; x < INPUT_SIZE; x++) out[y * INPUT_SIZE + x] = face[y * INPUT_SIZE + INPUT_SIZE - 1 - x];
  }
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
      'usage: npm run evaluate -- --data <folder-or-csv> [--usage PublicTest|PrivateTest|Training] [--model <onnx>] [--provider cpu|cuda|tensorrt|webgpu] [--batch N] [--strict] [--json]\n',
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
  log(`decode ${((tLoad - t0) / 1000).toFixed(1)} s, inference ${((tEnd - tLoad) / 1000).toFixed(1)} s, total ${((tEnd - t0) / 1000).toFixed(1)} s (provider ${args.provider})\n`);
  if (args.json) {
    process.stdout.write(JSON.stringify({ ...report, model: modelPath }) + '\n');
  } else {
    process.stdout.write(`model ${modelPath}\n${formatReport(report)}\n`);
  }
}

main().catch((err) => fail((err as Error).stack ?? String(err), 1));
