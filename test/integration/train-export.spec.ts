/**
 * The training script cannot rot: its loader tests, a one-epoch smoke run on a tiny generated CSV with checkpoint,
 * resume and export, then the exported ONNX checked from TypeScript (trunk + head = full model) and the TypeScript
 * preprocessing + ONNX Runtime checked against the PyTorch path on the same images.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTorchPython } from '../support/python';
import { decodeFace } from '../../src/inference/fer-dataset';
import { loadLaidOutModel } from '../../src/inference/heads/head-layout';
import { softmaxInPlace } from '../../src/inference/labels';
import { writeInput } from '../../src/inference/preprocess';
import { HEAD_PARAMS, headFromBytes } from '../../src/inference/heads/head-shape';
import { DATASETS, ROOT } from '../support/paths';

const python = requireTorchPython();
const root = ROOT;
const run = (args: string[]) => spawnSync(python!, args, { cwd: root, encoding: 'utf8', timeout: 240_000 });

/** 20 rows per class; each class a different brightness ramp plus noise, so one epoch can learn something. */
function tinyCsv(path: string): void {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const rows = ['emotion,pixels,Usage'];
  for (let c = 0; c < 7; c++) {
    for (let k = 0; k < 20; k++) {
      const px = Array.from({ length: 2304 }, (_, i) => Math.min(255, Math.floor(((i % 48) * c * 5 + rnd() * 60) % 256)));
      rows.push(`${c},${px.join(' ')},Training`);
    }
  }
  writeFileSync(path, rows.join('\n') + '\n');
}

/** The exported model's head layout (what personal-model export patches) points at exactly the exported head.f32. */
async function expectHeadLayoutHolds(generalDir: string): Promise<void> {
  const { bytes, layout } = await loadLaidOutModel(join(generalDir, 'expression.onnx'), HEAD_PARAMS);
  const head = headFromBytes(readFileSync(join(generalDir, 'head.f32')));
  for (const p of HEAD_PARAMS) {
    const r = layout.params[p.name];
    const w = head[p.name];
    expect(Buffer.from(bytes.subarray(r.offset, r.offset + r.length)).equals(Buffer.from(w.buffer, w.byteOffset, w.byteLength)), p.name).toBe(true);
  }
}

describe.skipIf(!python)('training script (PyTorch)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'train-smoke-'));
  const runDir = join(dir, 'run');
  const out = join(dir, 'models', 'general');

  beforeAll(() => tinyCsv(join(dir, 'tiny.csv')));

  it('passes its loader, packed-data, soft-target, model, ONNX layout, mixup, augmentation, optimizer, per-face gate, surer-head, likeness-gate, bagged-heads and varied-calibration unit tests', () => {
    const r = run(['-m', 'unittest', 'scripts/fer/test_data.py', 'scripts/fer/test_packed.py', 'scripts/fer/test_teachers.py', 'scripts/fer/test_model.py', 'scripts/fer/test_onnx_layout.py',
      'scripts/fer/test_mixup.py', 'scripts/fer/test_augment.py', 'scripts/fer/test_optim.py', 'scripts/personal/test_gate_rules.py', 'scripts/personal/test_surer_head.py', 'scripts/personal/test_likeness_gate.py', 'scripts/personal/test_bagged_heads.py', 'scripts/personal/test_varied_calibration.py']);
    expect(r.stderr).toMatch(/OK/);
    expect(r.status).toBe(0);
  });

  it('trains one epoch, stops, resumes for the second and exports', () => {
    const common = ['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', runDir, '--epochs', '2', '--batch', '16'];
    const first = run([...common, '--stop-after', '0.00001']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/epoch 1\/2 loss [\d.]+ train_acc [\d.]+ val_acc [\d.]+ .* time left/);
    expect(first.stdout).not.toMatch(/epoch 2\/2/);
    expect(existsSync(join(runDir, 'checkpoint.pt'))).toBe(true);

    const second = run([...common, '--export', out, '--replay-per-class', '3']);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resumed from .* at epoch 1\/2/);
    expect(second.stdout).toMatch(/epoch 2\/2/);
    expect(readdirSync(out).sort()).toEqual(['expression.head-layout.json', 'expression.onnx', 'head.f32', 'head.onnx', 'replay.f32', 'replay.json', 'trunk.onnx']);
    const replay = JSON.parse(readFileSync(join(out, 'replay.json'), 'utf8'));
    expect(replay.count).toBe(21);
    expect(readFileSync(join(out, 'replay.f32')).length).toBe(21 * 2048 * 4);
    expect(readFileSync(join(out, 'head.f32')).length).toBe((1024 * 2048 + 1024 + 7 * 1024 + 7) * 4);
    const manifest = JSON.parse(readFileSync(join(dir, 'models', 'manifest.json'), 'utf8'));
    expect(manifest.general.epochsTrained).toBe(2);
    expect(manifest.general.files['expression.onnx'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.general.crop).toEqual({ levelEyes: false });
  });

  it('marks a model exported from levelled faces (a scripts/align-fer.ts folder) general.crop.levelEyes, with their passes', async () => {
    const faces = join(dir, 'levelled');
    const labels = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
    for (const [c, label] of labels.entries()) {
      mkdirSync(join(faces, label), { recursive: true });
      for (let k = 0; k < 6; k++) {
        const px = Buffer.from(Array.from({ length: 2304 }, (_, i) => ((i % 48) * (c + 1) + k * 7) % 256));
        await sharp(px, { raw: { width: 48, height: 48, channels: 1 } }).png().toFile(join(faces, label, `f${k}.png`));
      }
    }
    writeFileSync(join(faces, 'align-report.json'), '{"passes": 2}\n');
    const levelRun = join(dir, 'level-run');
    const levelOut = join(dir, 'level', 'models', 'general');
    const t = run(['scripts/train.py', '--data', faces, '--run', levelRun, '--epochs', '1', '--batch', '16', '--export', levelOut, '--replay-per-class', '2']);
    expect(t.status, t.stderr).toBe(0);
    const general = JSON.parse(readFileSync(join(dir, 'level', 'models', 'manifest.json'), 'utf8')).general;
    expect(general.crop).toEqual({ levelEyes: true });
    // `npm run evaluate` levels a test set as the training faces were: the manifest says how
    expect(general.ferLevelling).toMatchObject({ passes: 2 });
    // the run remembers its faces: exporting it with unlevelled data, or resuming / continuing it on them, is refused
    const wrong = run(['scripts/export.py', '--run', levelRun, '--data', join(dir, 'tiny.csv'), '--out', join(dir, 'wrong', 'general')]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('trained on levelled faces');
    const resumed = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', levelRun, '--epochs', '2', '--batch', '16']);
    expect(resumed.status).toBe(2);
    expect(resumed.stderr).toContain('the checkpoint was trained on levelled faces');
    const phase = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'level-phase2'), '--epochs', '1', '--init-from', join(levelRun, 'checkpoint.pt')]);
    expect(phase.status).toBe(2);
    expect(phase.stderr).toContain('--init-from was trained on levelled faces');
    // and an unlevelled run exported from levelled faces is refused the same way
    const other = run(['scripts/export.py', '--run', runDir, '--data', faces, '--out', join(dir, 'wrong2', 'general')]);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('trained on unlevelled faces');
    // faces levelled in another number of passes are another set of faces too
    const three = join(dir, 'levelled3');
    cpSync(faces, three, { recursive: true });
    writeFileSync(join(three, 'align-report.json'), '{"passes": 3}\n');
    const passes = run(['scripts/export.py', '--run', levelRun, '--data', three, '--out', join(dir, 'wrong3', 'general')]);
    expect(passes.status).toBe(2);
    expect(passes.stderr).toContain('levelled in 2 pass(es)');
    const resumed3 = run(['scripts/train.py', '--data', three, '--run', levelRun, '--epochs', '2', '--batch', '16']);
    expect(resumed3.status).toBe(2);
    expect(resumed3.stderr).toContain('the checkpoint was trained on faces levelled in 2 pass(es)');
  });

  it('keeps recorded metrics only while the weights are the ones they were measured on', () => {
    const manifestPath = join(dir, 'models', 'manifest.json');
    const evalJson = join(dir, 'eval.json');
    writeFileSync(evalJson, JSON.stringify({ accuracy: 0.5, macroF1: 0.4, count: 10, perClass: {}, confusion: [], labels: [] }));
    const recorded = run(['scripts/export.py', '--run', runDir, '--data', 'x', '--out', out, '--metrics', 'publicTest', evalJson]);
    expect(recorded.status, recorded.stderr).toBe(0);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8')).general.metrics.publicTest.accuracy).toBe(0.5);
    // a levelled model's figure keeps what it was read on
    const levelledEval = join(dir, 'eval-levelled.json');
    const levelling = { passes: 3, faces: 10, levelled: 9, withoutFace: 1, leftUnrotated: 0 };
    writeFileSync(levelledEval, JSON.stringify({ accuracy: 0.6, macroF1: 0.5, count: 10, perClass: {}, confusion: [], labels: [], levelling }));
    const recordedLevelled = run(['scripts/export.py', '--run', runDir, '--data', 'x', '--out', out, '--metrics', 'levelledTest', levelledEval]);
    expect(recordedLevelled.status, recordedLevelled.stderr).toBe(0);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8')).general.metrics.levelledTest.levelling).toEqual(levelling);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8')).general.metrics.publicTest.levelling).toBeUndefined();
    // the same weights exported again: still theirs
    const again = run(['scripts/export.py', '--run', runDir, '--data', join(dir, 'tiny.csv'), '--out', out, '--replay-per-class', '3']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8')).general.metrics.publicTest.accuracy).toBe(0.5);
    // other weights over the same manifest (a new model shipped): the old model's figures must not describe it
    mkdirSync(join(dir, 'other', 'models'), { recursive: true });
    writeFileSync(join(dir, 'other', 'models', 'manifest.json'), readFileSync(manifestPath));
    const other = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-other'), '--epochs', '1', '--batch', '16',
      '--seed', '7', '--export', join(dir, 'other', 'models', 'general'), '--replay-per-class', '2']);
    expect(other.status, other.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'other', 'models', 'manifest.json'), 'utf8')).general.metrics).toEqual({});
  });

  it('starts a second phase from the best weights of the first (--init-from)', () => {
    const out2 = join(dir, 'phase2', 'models', 'general');
    const r = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run2'), '--epochs', '1',
      '--batch', '16', '--init-from', join(runDir, 'checkpoint.pt'), '--init-weights', 'last', '--augment', 'flip', '--export', out2, '--replay-per-class', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/phase 2: starting from the last weights of .* \(epoch 2\)/);
    const manifest = JSON.parse(readFileSync(join(dir, 'phase2', 'models', 'manifest.json'), 'utf8'));
    expect(manifest.general.phases).toEqual([1, 2]);
    expect(manifest.general.epochsTrained).toBe(3);
  });

  it('re-fits a run\'s head on its frozen trunk (scripts/bench/refit_head.py): same trunk, a new head, exportable', () => {
    const refit = join(dir, 'refit');
    const r = run(['scripts/bench/refit_head.py', '--run', runDir, '--data', join(dir, 'tiny.csv'), '--out-run', refit, '--epochs', '2', '--batch', '32']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-fitted head: best val_acc [\d.]+ at epoch [12] \(the run's own: [\d.]+\)/);
    const out3 = join(dir, 'refit-models', 'general');
    const e = run(['scripts/export.py', '--run', refit, '--data', join(dir, 'tiny.csv'), '--out', out3, '--replay-per-class', '2']);
    expect(e.status, e.stderr).toBe(0);
    expect(readFileSync(join(out3, 'trunk.onnx')).equals(readFileSync(join(out, 'trunk.onnx')))).toBe(true);
    expect(readFileSync(join(out3, 'head.f32')).equals(readFileSync(join(out, 'head.f32')))).toBe(false);
  });

  it('distils from earlier runs (--teachers): soft targets on each image and its mirror; other augmentation refused', () => {
    const common = ['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--epochs', '1', '--batch', '16',
      '--init-from', join(runDir, 'checkpoint.pt'), '--teachers', `${join(runDir, 'checkpoint.pt')},${join(dir, 'run2', 'checkpoint.pt')}`];
    const r = run([...common, '--run', join(dir, 'run3'), '--augment', 'flip', '--distill', '0.5']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/distillation from 2 teacher\(s\), soft targets in \d+s; teacher ensemble validation [\d.]+ \(with mirror [\d.]+\)/);
    expect(r.stdout).toMatch(/epoch 1\/1 loss [\d.]+ /);
    const refused = run([...common, '--run', join(dir, 'run4'), '--augment', 'light']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--teachers needs --augment flip');
  });

  it('packs the data, trains a teacher with the GPU script (on the CPU here) and distils from its soft-target file', () => {
    const packed = join(dir, 'tiny.npz.xz');
    const p = run(['scripts/fer/packed.py', join(dir, 'tiny.csv'), packed, '--usage', 'Training']);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^140 faces -> .*tiny\.npz\.xz/);
    const gpuOut = join(dir, 'gpu-out');
    const env = { ...process.env, PYTHON: python!, ARCH: 'seed', MAX_EPOCHS: '2', EXTRA: '--threads 2 --batch 16' };
    const t = spawnSync('bash', ['scripts/gpu/teacher.sh', packed, gpuOut, '0.05'], { cwd: root, encoding: 'utf8', timeout: 240_000, env });
    expect(t.status, t.stderr + t.stdout).toBe(0);
    expect(t.stdout).toMatch(/planning [12] epochs in 0\.05 minutes/);
    expect(t.stdout).toMatch(/140 faces, 1 teacher\(s\) on cpu in \d+s -> .*teacher-targets\.npz/);
    expect(readdirSync(gpuOut).sort()).toEqual(['teacher-history.json', 'teacher-targets.npz', 'teacher.log']);
    expect(spawnSync('bash', ['scripts/gpu/teacher.sh'], { cwd: root, encoding: 'utf8' }).status).toBe(2);

    // the file and a checkpoint as teachers, the same faces loaded from the CSV: rows are matched by their pixels
    const targets = join(gpuOut, 'teacher-targets.npz');
    const common = ['scripts/train.py', '--epochs', '1', '--batch', '16', '--init-from', join(runDir, 'checkpoint.pt'), '--augment', 'flip'];
    const r = run([...common, '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-file'), '--teachers', `${targets},${join(dir, 'run2', 'checkpoint.pt')}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/distillation from 2 teacher\(s\), soft targets in \d+s; teacher ensemble validation [\d.]+/);
    expect(r.stdout).toMatch(/epoch 1\/1 loss [\d.]+ /);
    // faces the file was not made for: refused before training
    const other = join(dir, 'other.csv');
    const rows = ['emotion,pixels,Usage'];
    for (let c = 0; c < 7; c++) for (let k = 0; k < 3; k++) rows.push(`${c},${Array(2304).fill(String(c * 30 + k)).join(' ')},Training`);
    writeFileSync(other, rows.join('\n') + '\n');
    const refused = run([...common, '--data', other, '--run', join(dir, 'run-refused'), '--val-fraction', '0.34', '--teachers', targets]);
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/error: .*teacher-targets\.npz: \d+ of \d+ faces have no soft targets/);
  });

  it('trains with --mixup (labels and soft targets mixed like the images) and records it in the recipe', () => {
    const mixOut = join(dir, 'mix', 'models', 'general');
    const r = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-mix'), '--epochs', '1', '--batch', '16',
      '--mixup', '0.3', '--export', mixOut, '--replay-per-class', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/epoch 1\/1 loss [\d.]+ /);
    expect(readFileSync(join(dir, 'mix', 'models', 'manifest.json'), 'utf8')).toContain('"mixup": 0.3');
    const distilled = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-mix-kd'), '--epochs', '1', '--batch', '16',
      '--mixup', '0.3', '--augment', 'flip', '--init-from', join(runDir, 'checkpoint.pt'), '--teachers', join(runDir, 'checkpoint.pt')]);
    expect(distilled.status, distilled.stderr).toBe(0);
  });

  it('trains with --optimizer sgd (Nesterov), resumes it with SGD even without the flag, and records it in the recipe', () => {
    const sgdRun = join(dir, 'run-sgd');
    const common = ['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', sgdRun, '--epochs', '2', '--batch', '16'];
    const first = run([...common, '--optimizer', 'sgd', '--lr', '0.01', '--stop-after', '0.00001']);
    expect(first.status, first.stderr).toBe(0);
    const second = run([...common, '--export', join(dir, 'sgd', 'models', 'general'), '--replay-per-class', '2']);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('checkpoint was trained with --optimizer sgd; keeping it');
    expect(second.stdout).toMatch(/epoch 2\/2 loss [\d.]+ /);
    expect(readFileSync(join(dir, 'sgd', 'models', 'manifest.json'), 'utf8')).toContain('"optimizer": "sgd"');
    const refused = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-sgd2'), '--epochs', '1', '--optimizer', 'adam']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("invalid choice: 'adam'");
  });

  it('trains with --batchnorm, resumes it without the flag, and exports the plain seed architecture (BatchNorm folded)', () => {
    const bnRun = join(dir, 'run-bn');
    const bnOut = join(dir, 'bn', 'models', 'general');
    const common = ['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', bnRun, '--epochs', '2', '--batch', '16'];
    const first = run([...common, '--batchnorm', '--stop-after', '0.00001']);
    expect(first.status, first.stderr).toBe(0);
    const second = run([...common, '--export', bnOut, '--replay-per-class', '2']); // the checkpoint remembers --batchnorm
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/epoch 2\/2/);
    const manifest = JSON.parse(readFileSync(join(dir, 'bn', 'models', 'manifest.json'), 'utf8'));
    expect(JSON.stringify(manifest.general)).toContain('"batchnorm":true');
    // same operators and weight shapes as the plain export of the first test: no BatchNormalization left
    const graph = (path: string) =>
      run(['-c', `import onnx,json;m=onnx.load(${JSON.stringify(path)});print(json.dumps([sorted(n.op_type for n in m.graph.node),sorted([list(i.dims) for i in m.graph.initializer])]))`]);
    const bn = graph(join(bnOut, 'expression.onnx'));
    const plain = graph(join(out, 'expression.onnx'));
    expect(bn.status, bn.stderr).toBe(0);
    expect(bn.stdout).not.toContain('BatchNormalization');
    expect(bn.stdout).toBe(plain.stdout);
    const refused = run(['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', join(dir, 'run-bn2'), '--epochs', '1',
      '--batchnorm', '--init-from', join(runDir, 'checkpoint.pt')]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--batchnorm trains a new model from scratch');
  });

  it('trains a larger candidate (--arch vgg), resumes it without the flag, and exports it folded with the 2048-feature contract', async () => {
    const vggRun = join(dir, 'run-vgg');
    const vggRoot = join(dir, 'vgg', 'models');
    const vggOut = join(vggRoot, 'general');
    const common = ['scripts/train.py', '--data', join(dir, 'tiny.csv'), '--run', vggRun, '--epochs', '2', '--batch', '16'];
    const first = run([...common, '--arch', 'vgg', '--stop-after', '0.00001']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('arch vgg (BatchNorm while training');
    const second = run([...common, '--export', vggOut, '--replay-per-class', '2']); // the checkpoint remembers --arch
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('arch vgg');
    expect(second.stdout).toMatch(/epoch 2\/2/);
    const manifest = JSON.parse(readFileSync(join(vggRoot, 'manifest.json'), 'utf8'));
    expect(manifest.general.arch).toBe('vgg');
    expect(manifest.general.macsPerFace.trunk).toBeGreaterThan(100e6);
    const replay = JSON.parse(readFileSync(join(vggOut, 'replay.json'), 'utf8'));
    expect(replay.featureSize).toBe(2048);
    expect(readFileSync(join(vggOut, 'head.f32')).length).toBe((1024 * 2048 + 1024 + 7 * 1024 + 7) * 4);
    const ops = run(['-c', `import onnx;m=onnx.load(${JSON.stringify(join(vggOut, 'expression.onnx'))});print(sorted(set(n.op_type for n in m.graph.node)))`]);
    expect(ops.status, ops.stderr).toBe(0);
    expect(ops.stdout).not.toContain('BatchNormalization');
    expect(ops.stdout).toContain('Conv');

    const [full, trunk, head] = await Promise.all(
      ['expression', 'trunk', 'head'].map((m) => ort.InferenceSession.create(join(vggOut, `${m}.onnx`), { executionProviders: ['cpu'] })),
    );
    const n = 3;
    const input = new ort.Tensor('float32', Float32Array.from({ length: n * 2304 }, (_, i) => ((i * 7919) % 256) / 255), [n, 1, 48, 48]);
    const features = (await trunk.run({ input })).features;
    expect(features.dims).toEqual([n, 2048]);
    const logits = (await full.run({ input })).logits.data as Float32Array;
    const split = (await head.run({ features })).logits.data as Float32Array;
    split.forEach((v, i) => expect(v).toBeCloseTo(logits[i], 4));
    // the head layout (personal-model export) holds for the new trunk too
    await expectHeadLayoutHolds(vggOut);
  }, 180_000); // two Python processes training a 139 M-MAC network, on a shared 2-core CI machine

  it('rejects bad data with a clear message and exit code 2', () => {
    writeFileSync(join(dir, 'bad.csv'), 'label,pixels\n1,2\n');
    const r = run(['scripts/train.py', '--data', join(dir, 'bad.csv'), '--run', join(dir, 'bad-run'), '--epochs', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("bad.csv:1: missing column 'emotion'");
  });

  it('exports a trunk and a head that together equal the full model', async () => {
    const opts = { executionProviders: ['cpu'] };
    const [full, trunk, head] = await Promise.all(
      ['expression', 'trunk', 'head'].map((m) => ort.InferenceSession.create(join(out, `${m}.onnx`), opts)),
    );
    const n = 5;
    const x = Float32Array.from({ length: n * 2304 }, (_, i) => ((i * 7919) % 256) / 255);
    const input = new ort.Tensor('float32', x, [n, 1, 48, 48]);
    const logits = (await full.run({ input })).logits.data as Float32Array;
    const features = (await trunk.run({ input })).features;
    expect(features.dims).toEqual([n, 2048]);
    const split = (await head.run({ features })).logits.data as Float32Array;
    expect(split.length).toBe(n * 7);
    split.forEach((v, i) => expect(v).toBeCloseTo(logits[i], 4));
  });

  it('writes the head layout of the exported model: its ranges hold the exported head.f32', async () => {
    await expectHeadLayoutHolds(out);
    const manifest = JSON.parse(readFileSync(join(dir, 'models', 'manifest.json'), 'utf8'));
    expect(manifest.general.files['expression.head-layout.json'].bytes).toBe(readFileSync(join(out, 'expression.head-layout.json')).length);
  });

  it('TypeScript preprocessing + ONNX Runtime give the PyTorch predictions', async () => {
    const imgs = join(dir, 'imgs');
    mkdirSync(imgs, { recursive: true });
    const files: string[] = [];
    const noise = (w: number, h: number, c: number) => {
      const b = Buffer.alloc(w * h * c);
      for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
      return sharp(b, { raw: { width: w, height: h, channels: c as 1 | 3 } });
    };
    const made: [string, () => ReturnType<typeof sharp>][] = [
      ['gray48.jpg', () => noise(48, 48, 1).jpeg()],
      ['gray48.png', () => noise(48, 48, 1).png()],
      ['rgb100x80.png', () => noise(100, 80, 3).png()],
      ['rgb256.jpg', () => noise(256, 256, 3).jpeg({ quality: 90 })],
      ['rgb37x61.png', () => noise(37, 61, 3).png()],
    ];
    for (const [name, make] of made) {
      await make().toFile(join(imgs, name));
      files.push(join(imgs, name));
    }
    // Real data where ../shared is present: FER test faces and JAFFE photos (TIFF, 256x256).
    const shared = DATASETS;
    for (const sub of ['fer2013/test/happy', 'fer2013/test/disgust', 'jaffe/KA/test/happy']) {
      const d = join(shared, sub);
      if (existsSync(d)) files.push(...readdirSync(d).slice(0, 3).map((f) => join(d, f)));
    }
    const r = run(['scripts/fer/predict.py', '--run', runDir, ...files]);
    expect(r.status, r.stderr).toBe(0);
    const py = JSON.parse(r.stdout) as { pixels: number[][]; probs: number[][] };

    const session = await ort.InferenceSession.create(join(out, 'expression.onnx'));
    const batch = new Float32Array(files.length * 2304);
    for (let i = 0; i < files.length; i++) {
      const face = await decodeFace(readFileSync(files[i]));
      // pixel parity: identical bytes (area resize computed in float64 on both sides)
      const diff = face.reduce((m, v, k) => Math.max(m, Math.abs(v - py.pixels[i][k])), 0);
      expect(diff, files[i]).toBeLessThanOrEqual(0);
      writeInput(face, batch, i);
    }
    const logits = (await session.run({ input: new ort.Tensor('float32', batch, [files.length, 1, 48, 48]) })).logits
      .data as Float32Array;
    const probs = softmaxInPlace(Float32Array.from(logits), files.length);
    for (let i = 0; i < files.length; i++) {
      for (let c = 0; c < 7; c++) expect(probs[i * 7 + c]).toBeCloseTo(py.probs[i][c], 4);
    }
  });
});
