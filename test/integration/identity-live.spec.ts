import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFaceViews } from '../../src/inference/embedding/face-align';
import { FaceEmbedder, faceEmbeddingPath } from '../../src/inference/embedding/face-embedder';
import { sharpness } from '../../src/inference/embedding/face-quality';
import { InProcessFaceIdentifier } from '../../src/inference/embedding/identify-faces';
import { DEFAULT_CROP } from '../../src/inference/face-crop';
import { OrtSessionFactory } from '../../src/inference/ort.sessions';
import type { InferenceWorkerInit } from '../../src/inference/pool/inference.messages';
import { InferencePool, PooledFaceDetector } from '../../src/inference/pool/inference.pool';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { MODELS } from '../support/paths';
import { D6, decodeBgrFrames, hasD6 } from '../support/video';

const INIT: InferenceWorkerInit = {
  session: { EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1, ORT_SPIN: false },
  detectorPath: join(MODELS, 'face-detection/yunet_s_dynamic.onnx'),
  trunkPath: join(MODELS, 'general/trunk.onnx'),
  detector: { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 },
  embedderPath: faceEmbeddingPath(MODELS),
};

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/**
 * Live recognition's embedding path on a real video frame: the worker (analyze with `identity`) and the in-process
 * identifier (INFERENCE_WORKERS=0) give the embedding the direct embedder gives for the same face (YuNet landmarks →
 * alignFaceViews → FaceEmbedder.embedFaces), within 1e-4.
 */
describe.skipIf(!hasD6)('live identity embedding (d6.mp4)', () => {
  let pool: InferencePool;
  let factory: OrtSessionFactory;
  let detector: YunetDetector;
  let embedder: FaceEmbedder;
  let frames: ReturnType<typeof decodeBgrFrames>;
  beforeAll(async () => {
    frames = decodeBgrFrames(D6, { count: 4, fps: 2 });
    pool = await InferencePool.start({ size: 2, init: INIT });
    factory = new OrtSessionFactory({ ...INIT.session, quiet: true });
    detector = new YunetDetector(await factory.create(INIT.detectorPath), INIT.detector);
    embedder = await FaceEmbedder.create(factory, INIT.embedderPath!);
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
    await detector?.release();
    await embedder?.release();
  });

  it('worker and in-process embeddings equal the direct embedder within 1e-4; unasked faces get none', async () => {
    const images = frames.frames.slice(0, 4).map((data) => ({ data, width: frames.width, height: frames.height }));
    const detections = await detector.detect(images);
    expect(detections.every((d) => d.length === 1)).toBe(true);
    // ask about the faces of frames 0, 1 and 3 (by their box, as the scheduler does with a track's last box)
    const asked = [0, 1, 3];
    const request = { frames: images.map((_, i) => (asked.includes(i) ? [detections[i][0].box] : [])) };
    const direct = await embedder.embedFaces(asked.map((i) => alignFaceViews(images[i], 'bgr', detections[i][0].landmarks).crops));
    for (const i of asked) {
      const crop = alignFaceViews(images[i], 'bgr', detections[i][0].landmarks).crops[0];
      expect(sharpness(crop)).toBeGreaterThan(20); // a real, sharp face passes the quality gate
    }

    const analyzed = await new PooledFaceDetector(pool).analyze(images, { crop: DEFAULT_CROP, largeSide: 0, features: true, identity: request });
    const fromWorker = asked.map((i) => analyzed[i][0].identity);
    expect(analyzed[2][0].identity).toBeUndefined();
    fromWorker.forEach((r, k) => {
      expect(r && 'embedding' in r).toBe(true);
      expect(maxAbsDiff((r as { embedding: Float32Array }).embedding, direct[k])).toBeLessThan(1e-4);
    });

    const local = new InProcessFaceIdentifier(embedder);
    const inProcess = await local.identify(images, detections, request);
    expect(inProcess[2][0]).toBeUndefined();
    asked.forEach((i, k) => expect(maxAbsDiff((inProcess[i][0] as { embedding: Float32Array }).embedding, direct[k])).toBeLessThan(1e-4));
  }, 120_000);

  it('a worker started without the embedding model refuses identity requests with a clear error', async () => {
    const bare = await InferencePool.start({ size: 1, init: { ...INIT, embedderPath: undefined } });
    try {
      const image = { data: frames.frames[0], width: frames.width, height: frames.height };
      const [[d]] = await detector.detect([image]);
      await expect(bare.analyze([image], { crop: DEFAULT_CROP, largeSide: 0, features: false, identity: { frames: [[d.box]] } })).rejects.toThrow(
        /without the face-embedding model/,
      );
    } finally {
      await bare.close();
    }
  }, 120_000);
});
