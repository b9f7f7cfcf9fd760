import { Inject, Logger, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CONFIG, Config } from '../config';
import { FaceEmbedder, faceEmbeddingPath } from './embedding/face-embedder';
import type { ViewEmbedder } from './embedding/identify-faces';
import { ExpressionTrunk, GeneralHead } from './expression.classifier';
import { GeneralHeadResolver, HEAD_RESOLVER } from './head.resolver';
import { cropFromManifest, GENERAL_CROP } from './model-crop';
import { OrtModule } from './ort.module';
import { OrtSessionFactory } from './ort.sessions';
import { InferencePool, PooledFaceDetector, PooledFeatureExtractor, PooledViewEmbedder } from './pool/inference.pool';
import type { FaceDetector, FeatureExtractor } from './inference.types';
import { YunetDetector, YunetOptions } from './yunet.detector';

export const detectorPath = (c: Config): string => join(c.modelsDir, 'face-detection', `yunet_${c.DETECTOR_MODEL}_dynamic.onnx`);
export const trunkPath = (c: Config): string => join(c.modelsDir, 'general', 'trunk.onnx');
export const headPath = (c: Config): string => join(c.modelsDir, 'general', 'head.onnx');

/** What the pipeline and the photo path need of a face detector (YunetDetector in-process, or on the pool). */
export interface FaceDetectorModel extends FaceDetector {
  release(): Promise<void>;
}
export const FACE_DETECTOR = Symbol('FACE_DETECTOR');
/** A FeatureExtractor (inference.types.ts): ExpressionTrunk in-process, or the pool's proxy. */
export const FEATURE_EXTRACTOR = Symbol('FEATURE_EXTRACTOR');
/**
 * Live recognition's ViewEmbedder (IDENTITY=face; null with IDENTITY=off): its own worker thread (EMBEDDING_POOL), or
 * a FaceEmbedder on the main thread with INFERENCE_WORKERS=0.
 */
export const LIVE_EMBEDDER = Symbol('LIVE_EMBEDDER');
const INFERENCE_POOL = Symbol('INFERENCE_POOL');
/** One worker thread holding the face-embedding session (IDENTITY=face with INFERENCE_WORKERS > 0), else null. */
const EMBEDDING_POOL = Symbol('EMBEDDING_POOL');

/** What a live embedder owns and must free: a FaceEmbedder's session; the pool proxy owns none (the pool is closed). */
type LiveEmbedder = ViewEmbedder & { release?: () => Promise<void> };

/** INFERENCE_WORKERS resolved: `auto` = one per core up to 4 on cpu (each session single-threaded), 1 on a GPU. */
export function inferenceWorkers(c: Pick<Config, 'INFERENCE_WORKERS' | 'EXECUTION_PROVIDER'>, cores = availableParallelism()): number {
  if (c.INFERENCE_WORKERS !== 'auto') return c.INFERENCE_WORKERS;
  return c.EXECUTION_PROVIDER === 'cpu' ? Math.max(1, Math.min(4, cores)) : 1;
}

const detectorOptions = (c: Config): YunetOptions => ({
  size: c.DETECTOR_INPUT_SIZE,
  scoreThreshold: c.DETECTOR_SCORE_THRESHOLD,
  nmsIou: c.DETECTOR_NMS_IOU,
  minFacePixels: c.MIN_FACE_PIXELS,
});

/**
 * ONNX Runtime sessions, loaded once at startup (a missing model or an unavailable execution provider stops the
 * server with a message naming it) and shared by every camera. The detector and trunk run on an InferencePool of
 * worker threads (INFERENCE_WORKERS); live recognition's face embedder (IDENTITY=face) on one more worker thread of its
 * own, so that no batch waits for it (docs/IDENTITY.md "Live recognition"); the small heads stay on the main thread.
 */
@Module({
  imports: [OrtModule],
  providers: [
    {
      provide: INFERENCE_POOL,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (_f: OrtSessionFactory, c: Config): Promise<InferencePool | null> => {
        const size = inferenceWorkers(c);
        if (size === 0) return null;
        const pool = await InferencePool.start({
          size,
          init: {
            session: { EXECUTION_PROVIDER: c.EXECUTION_PROVIDER, ORT_THREADS: c.ORT_THREADS, ORT_SPIN: c.ORT_SPIN },
            detectorPath: detectorPath(c),
            trunkPath: trunkPath(c),
            detector: detectorOptions(c),
          },
        });
        new Logger('InferenceModule').log(
          `${size} inference worker(s) on ${c.EXECUTION_PROVIDER}: ${detectorPath(c)}, ${trunkPath(c)} (${c.ORT_THREADS || 'all'} thread(s) each)`,
        );
        return pool;
      },
    },
    {
      provide: FACE_DETECTOR,
      inject: [INFERENCE_POOL, OrtSessionFactory, CONFIG],
      useFactory: async (pool: InferencePool | null, f: OrtSessionFactory, c: Config): Promise<FaceDetectorModel> =>
        pool ? new PooledFaceDetector(pool) : new YunetDetector(await f.create(detectorPath(c)), detectorOptions(c)),
    },
    {
      provide: FEATURE_EXTRACTOR,
      inject: [INFERENCE_POOL, OrtSessionFactory, CONFIG],
      useFactory: async (pool: InferencePool | null, f: OrtSessionFactory, c: Config): Promise<FeatureExtractor> =>
        pool ? new PooledFeatureExtractor(pool) : new ExpressionTrunk(await f.create(trunkPath(c))),
    },
    {
      provide: EMBEDDING_POOL,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (_f: OrtSessionFactory, c: Config): Promise<InferencePool | null> =>
        c.IDENTITY === 'face' && inferenceWorkers(c) > 0
          ? InferencePool.start({
              size: 1,
              label: 'embedding worker',
              init: { session: { EXECUTION_PROVIDER: c.EXECUTION_PROVIDER, ORT_THREADS: c.ORT_THREADS, ORT_SPIN: c.ORT_SPIN }, embedderPath: faceEmbeddingPath(c.modelsDir) },
            })
          : null,
    },
    {
      provide: LIVE_EMBEDDER,
      inject: [EMBEDDING_POOL, OrtSessionFactory, CONFIG],
      useFactory: async (pool: InferencePool | null, f: OrtSessionFactory, c: Config): Promise<LiveEmbedder | null> => {
        if (c.IDENTITY !== 'face') return null;
        return pool ? new PooledViewEmbedder(pool) : FaceEmbedder.create(f, faceEmbeddingPath(c.modelsDir));
      },
    },
    {
      // the crop the general model was trained for (models/manifest.json general.crop): a bad entry stops the server
      provide: GENERAL_CROP,
      inject: [CONFIG],
      useFactory: (c: Config) => {
        const path = join(c.modelsDir, 'manifest.json');
        return cropFromManifest(existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined, path);
      },
    },
    {
      provide: GeneralHead,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (f: OrtSessionFactory, c: Config) => new GeneralHead(await f.create(headPath(c))),
    },
  ],
  exports: [OrtModule, FACE_DETECTOR, FEATURE_EXTRACTOR, LIVE_EMBEDDER, GeneralHead, GENERAL_CROP],
})
export class InferenceModule implements OnApplicationShutdown {
  constructor(
    @Inject(FACE_DETECTOR) private readonly detector: FaceDetectorModel,
    @Inject(FEATURE_EXTRACTOR) private readonly trunk: FeatureExtractor,
    @Inject(GeneralHead) private readonly head: GeneralHead,
    @Optional() @Inject(INFERENCE_POOL) private readonly pool: InferencePool | null,
    @Optional() @Inject(EMBEDDING_POOL) private readonly embeddingPool: InferencePool | null,
    @Optional() @Inject(LIVE_EMBEDDER) private readonly embedder: LiveEmbedder | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([
      this.detector.release(),
      this.trunk.release(),
      this.head.release(),
      this.pool?.close(),
      this.embeddingPool?.close(),
      this.embedder?.release?.(),
    ]);
  }
}

export { GeneralHeadResolver, HEAD_RESOLVER };
