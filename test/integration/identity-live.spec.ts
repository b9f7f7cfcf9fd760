import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFaceViews } from '../../src/inference/embedding/face-align';
import { FaceEmbedder, faceEmbeddingPath } from '../../src/inference/embedding/face-embedder';
import { sharpness } from '../../src/inference/embedding/face-quality';
import { prepareFaces } from '../../src/inference/embedding/identify-faces';
import { DEFAULT_CROP } from '../../src/inference/face-crop';
import { OrtSessionFactory } from '../../src/inference/ort.sessions';
import type { InferenceWorkerInit } from '../../src/inference/pool/inference.messages';
import { InferencePool, PooledFaceDetector, PooledViewEmbedder } from '../../src/inference/pool/inference.pool';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { MODELS } from '../support/paths';
import { D6, decodeBgrFrames, hasD6 } from '../support/video';

const INIT = {
  session: { EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1, ORT_SPIN: false },
  detectorPath: join(MODELS, 'face-detection/yunet_s_dynamic.onnx'),
  trunkPath: join(MODELS, 'general/trunk.onnx'),
  detector: { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 },
} satisfies InferenceWorkerInit;

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** The embedding worker's init: only the face-embedding model (InferenceModule's EMBEDDING_POOL). */
const EMBEDDING_INIT = { session: INIT.session, embedderPath: faceEmbeddingPath(MODELS) } satisfies InferenceWorkerInit;

/**
 * Live recognition's embedding path on a real video frame: the inference workers (analyze with `identity`) check and
 * align the asked faces exactly as prepareFaces does on the main thread (INFERENCE_WORKERS=0), and the embedding worker
 * embeds those views as the direct embedder does (YuNet landmarks → alignFaceViews → FaceEmbedder.embedFaces), within 1e-4.
 */
describe.skipIf(!hasD6)('live identity embedding (d6.mp4)', () => {
  let pool: InferencePool;
  let embeddingPool: InferencePool;
  let factory: OrtSessionFactory;
  let detector: YunetDetector;
  let embedder: FaceEmbedder;
  let frames: ReturnType<typeof decodeBgrFrames>;
  beforeAll(async () => {
    frames = decodeBgrFrames(D6, { count: 4, fps: 2 });
    pool = await InferencePool.start({ size: 2, init: INIT });
    embeddingPool = await InferencePool.start({ size: 1, init: EMBEDDING_INIT, label: 'embedding worker' });
    factory = new OrtSessionFactory({ ...INIT.session, quiet: true });
    detector = new YunetDetector(await factory.create(INIT.detectorPath), INIT.detector);
    embedder = await FaceEmbedder.create(factory, EMBEDDING_INIT.embedderPath);
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
    await embeddingPool?.close();
    await detector?.release();
    await embedder?.release();
  });

  it('worker and main-thread views are the same bytes; the embedding worker embeds them as the direct embedder (1e-4)', async () => {
    const images = frames.frames.slice(0, 4).map((data) => ({ data, width: frames.width, height: frames.height }));
    const detections = await detector.detect(images);
    expect(detections.every((d) => d.length === 1)).toBe(true);
    // ask about the faces of frames 0, 1 and 3 (by their box, as the scheduler does with a track's last box)
    const asked = [0, 1, 3];
    const request = { frames: images.map((_, i) => (asked.includes(i) ? [detections[i][0].box] : [])) };
    const aligned = asked.map((i) => alignFaceViews(images[i], 'bgr', detections[i][0].landmarks).crops);
    const direct = await embedder.embedFaces(aligned);
    for (const views of aligned) expect(sharpness(views[0])).toBeGreaterThan(20); // a real, sharp face passes the quality gate

    const analyzed = await new PooledFaceDetector(pool).analyze(images, { crop: DEFAULT_CROP, largeSide: 0, features: true, identity: request });
    expect(analyzed[2][0].identity).toBeUndefined();
    const fromWorker = asked.map((i) => analyzed[i][0].identity);
    const views = fromWorker.map((r) => {
      expect(r && 'views' in r).toBe(true);
      return (r as { views: Uint8Array[] }).views;
    });
    views.forEach((v, k) => expect(v.map((x) => Buffer.from(x))).toEqual(aligned[k].map((x) => Buffer.from(x))));

    const onMain = prepareFaces(images, detections, request);
    expect(onMain.identity[2][0]).toBeUndefined();
    asked.forEach((i, k) => expect((onMain.identity[i][0] as { views: Uint8Array[] }).views.map((x) => Buffer.from(x))).toEqual(aligned[k].map((x) => Buffer.from(x))));

    const embedded = await new PooledViewEmbedder(embeddingPool).embedFaces(views);
    expect(embedded).toHaveLength(3);
    embedded.forEach((e, k) => expect(maxAbsDiff(e, direct[k])).toBeLessThan(1e-4));
  }, 120_000);

  it('a worker refuses a request for a model it was not started with, with a clear error', async () => {
    const image = { data: frames.frames[0], width: frames.width, height: frames.height };
    const [[d]] = await detector.detect([image]);
    const views = alignFaceViews(image, 'bgr', d.landmarks).crops;
    await expect(pool.embed([views])).rejects.toThrow(/without the face-embedding model/);
    await expect(embeddingPool.analyze([image], { crop: DEFAULT_CROP, largeSide: 0, features: false })).rejects.toThrow(/without the face-detection model/);
    await expect(embeddingPool.embed([[new Uint8Array(10)]])).rejects.toThrow(/expected 150x150x3/);
  }, 120_000);
});
