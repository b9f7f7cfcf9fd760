import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { D6, decodeBgrFrames, hasD6, noD6Reason } from '../support/video';
import { ExpressionTrunk } from '../../src/inference/expression.classifier';
import { FEATURES } from '../../src/inference/heads/head-shape';
import { cropFace, DEFAULT_CROP } from '../../src/inference/face-crop';
import { ExecutionProviderError, OrtSessionFactory } from '../../src/inference/ort.sessions';
import { YunetDetector } from '../../src/inference/yunet.detector';
import type { InferenceWorkerInit } from '../../src/inference/pool/inference.messages';
import { InferencePool, InferenceWorkerError, PooledFaceDetector, PooledFeatureExtractor } from '../../src/inference/pool/inference.pool';
import { MODELS, ROOT } from '../support/paths';

const INIT = {
  session: { EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1, ORT_SPIN: false },
  detectorPath: join(MODELS, 'face-detection/yunet_s_dynamic.onnx'),
  trunkPath: join(MODELS, 'general/trunk.onnx'),
  detector: { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 },
} satisfies InferenceWorkerInit;

/**
 * The real worker, plus a `crash-next` message: the next request the thread receives kills it the way a native fault
 * would (exit code 3). The exit runs synchronously in a listener registered before the worker's own, so the request is
 * never served, whatever the load: MessagePort delivery is FIFO, and an exiting thread runs no further JavaScript.
 * (The real worker ignores the unknown `crash-next` type.)
 */
function crashableEntry() {
  const tsxCjs = createRequire(join(ROOT, 'package.json')).resolve('tsx/cjs');
  const worker = join(ROOT, 'src/inference/pool/inference.worker.ts');
  return {
    eval: true,
    file: `require(${JSON.stringify(tsxCjs)});
      let crashNext = false;
      require('node:worker_threads').parentPort.on('message', (m) => {
        if (m && m.type === 'crash-next') crashNext = true;
        else if (crashNext && m && (m.type === 'detect' || m.type === 'analyze' || m.type === 'features')) process.exit(3);
      });
      require(${JSON.stringify(worker)});`,
  };
}

describe('InferencePool start-up errors', () => {
  it('names the model that cannot be loaded, and leaves no worker behind', async () => {
    await expect(InferencePool.start({ size: 2, init: { ...INIT, trunkPath: '/nonexistent/trunk.onnx' } })).rejects.toThrow(
      /cannot load model \/nonexistent\/trunk\.onnx/,
    );
  });

  it('reports an unavailable execution provider as ExecutionProviderError', async () => {
    const attempt = InferencePool.start({ size: 1, init: { ...INIT, session: { ...INIT.session, EXECUTION_PROVIDER: 'cuda' } } });
    await expect(attempt).rejects.toThrow(ExecutionProviderError);
  });
});

describe.skipIf(!hasD6)('InferencePool on real frames', () => {
  let pool: InferencePool;
  let local: YunetDetector;
  let trunk: ExpressionTrunk;
  let video: ReturnType<typeof decodeBgrFrames>;
  beforeAll(async () => {
    video = decodeBgrFrames(D6, { start: 5, count: 6, fps: 5 });
    const factory = new OrtSessionFactory({ ...INIT.session, quiet: true });
    local = new YunetDetector(await factory.create(INIT.detectorPath), INIT.detector);
    trunk = new ExpressionTrunk(await factory.create(INIT.trunkPath));
    pool = await InferencePool.start({ size: 2, init: INIT, entry: crashableEntry(), restartDelayMs: 50 });
  });
  afterAll(async () => {
    await pool?.close();
    await local?.release();
    await trunk?.release();
  });
  const images = () => video.frames.map((data) => ({ data, width: video.width, height: video.height }));

  it('gives exactly the detections and features of the in-process models, with the batch split over both workers', async () => {
    const detector = new PooledFaceDetector(pool);
    const pending = detector.detect(images());
    expect(pool.load()).toEqual([1, 1]); // 6 frames went out as 3 + 3, one request per worker
    const pooled = await pending;
    const inProcess = await local.detect(images());
    expect(pooled).toEqual(inProcess);
    expect(pooled.every((faces) => faces.length === 1)).toBe(true);

    const faces = [new Uint8Array(48 * 48).fill(90), new Uint8Array(48 * 48).map((_, i) => (i * 7) % 256), new Uint8Array(48 * 48).fill(200)];
    const features = await new PooledFeatureExtractor(pool).features(faces);
    expect(Array.from(features)).toEqual(Array.from(await trunk.features(faces)));
  });

  it('analyze: detection, crops and trunk features in one call per worker, equal to the in-process models', async () => {
    const detector = new PooledFaceDetector(pool);
    const pending = detector.analyze(images(), { crop: DEFAULT_CROP, largeSide: 96, features: true });
    expect(pool.load()).toEqual([1, 1]); // 6 frames as 3 + 3, one round trip per worker
    const pooled = await pending;
    const detections = await local.detect(images());
    expect(pooled.map((faces) => faces.map((f) => f.detection))).toEqual(detections);
    const flat = pooled.flat();
    expect(flat).toHaveLength(6);
    const expected = images().flatMap((im, i) => detections[i].map((d) => cropFace(im, d.box, DEFAULT_CROP, 96)));
    expect(flat.map((f) => f.region)).toEqual(expected.map((c) => c.region));
    expect(flat.map((f) => Array.from(f.crop48))).toEqual(expected.map((c) => Array.from(c.crop48)));
    expect(flat.map((f) => f.cropLarge)).toEqual(expected.map((c) => c.cropLarge));
    const features = await trunk.features(expected.map((c) => c.crop48));
    flat.forEach((f, i) => {
      expect(f.features).toHaveLength(FEATURES);
      expect(Array.from(f.features!)).toEqual(Array.from(features.subarray(i * FEATURES, (i + 1) * FEATURES)));
    });

    const lean = await detector.analyze(images().slice(0, 2), { crop: DEFAULT_CROP, largeSide: 0, features: false });
    expect(lean.flat().every((f) => f.features === undefined && f.cropLarge === undefined && f.crop48.length === 48 * 48)).toBe(true);

    // a levelled model's crop: the workers turn each face by its own landmarks, as the in-process crop does
    const level = { ...DEFAULT_CROP, levelEyes: true };
    const levelled = (await detector.analyze(images(), { crop: level, largeSide: 0, features: false })).flat();
    const expectedLevel = images().flatMap((im, i) => detections[i].map((d) => cropFace(im, d.box, level, 0, d.landmarks)));
    expect(levelled.map((f) => Array.from(f.crop48))).toEqual(expectedLevel.map((c) => Array.from(c.crop48)));
  });

  it('fails only the requests of a worker that crashes, starts it again, and keeps serving', async () => {
    const detector = new PooledFaceDetector(pool);
    const worker0 = (pool as unknown as { slots: { worker: { postMessage(m: unknown): void } }[] }).slots[0].worker;
    worker0.postMessage({ type: 'crash-next' }); // delivered before the request below (same port, FIFO)
    const doomed = pool.detect(images().slice(0, 1)); // goes to worker 0 (both idle, lowest index first)
    expect(pool.load()).toEqual([1, 0]);
    await expect(doomed).rejects.toThrow(InferenceWorkerError);
    // the other worker still answers while worker 0 restarts
    expect((await pool.detect(images().slice(0, 1)))[0]).toHaveLength(1);
    await expect.poll(async () => (pool as unknown as { slots: { worker: unknown }[] }).slots.every((s) => s.worker !== null), { timeout: 10_000 }).toBe(true);
    const again = await detector.detect(images());
    expect(again.every((faces) => faces.length === 1)).toBe(true);
  });
});
if (!hasD6) describe('InferencePool on real frames', () => it.skip(noD6Reason, () => undefined));

describe('InferencePool close', () => {
  let pool: InferencePool | undefined;
  afterEach(async () => pool?.close());

  it('answers what was already sent, then refuses new work without taking the process down', async () => {
    pool = await InferencePool.start({ size: 1, init: INIT });
    const image = { data: new Uint8Array(320 * 240 * 3).fill(40), width: 320, height: 240 };
    const inFlight = Array.from({ length: 5 }, () => pool!.detect([image]));
    const closing = pool.close();
    expect(await Promise.all(inFlight)).toEqual(Array.from({ length: 5 }, () => [[]]));
    await closing;
    await expect(pool.detect([image])).rejects.toThrow(/closed/);
    await expect(pool.features([new Uint8Array(48 * 48)])).rejects.toThrow(/closed/);
  });

  it('rejects a frame whose byte size does not match its dimensions, before anything is sent', async () => {
    pool = await InferencePool.start({ size: 1, init: INIT });
    await expect(pool.detect([{ data: new Uint8Array(10), width: 4, height: 4 }])).rejects.toThrow(/expected 4x4x3/);
    await expect(pool.features([new Uint8Array(5)])).rejects.toThrow(/48x48/);
    expect(pool.load()).toEqual([0]);
  });
});
