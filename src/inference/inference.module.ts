import { Inject, Logger, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CONFIG, Config } from '../config';
import { FaceEmbedder, faceEmbeddingPath } from './embedding/face-embedder';
import { FaceIdentifier, InProcessFaceIdentifier } from './embedding/identify-faces';
import { ExpressionTrunk, GeneralHead } from './expression.classifier';
import { GeneralHeadResolver, HEAD_RESOLVER } from './head.resolver';
import { OrtModule } from './ort.module';
import { OrtSessionFactory } from './ort.sessions';
import { InferencePool, PooledFaceDetector, PooledFeatureExtractor } from './pool/inference.pool';
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
/** A FaceIdentifier on the main thread, only with INFERENCE_WORKERS=0 and IDENTITY=face (else null: the pool's workers
 * identify inside analyze(), or recognition is off). */
export const FACE_IDENTIFIER = Symbol('FACE_IDENTIFIER');
const INFERENCE_POOL = Symbol('INFERENCE_POOL');

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
 * worker threads (INFERENCE_WORKERS); the small heads stay on the main thread.
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
            embedderPath: c.IDENTITY === 'face' ? faceEmbeddingPath(c.modelsDir) : undefined,
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
      provide: FACE_IDENTIFIER,
      inject: [INFERENCE_POOL, OrtSessionFactory, CONFIG],
      useFactory: async (pool: InferencePool | null, f: OrtSessionFactory, c: Config): Promise<FaceIdentifier | null> =>
        pool || c.IDENTITY !== 'face' ? null : new InProcessFaceIdentifier(await FaceEmbedder.create(f, faceEmbeddingPath(c.modelsDir))),
    },
    {
      provide: GeneralHead,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (f: OrtSessionFactory, c: Config) => new GeneralHead(await f.create(headPath(c))),
    },
  ],
  exports: [OrtModule, FACE_DETECTOR, FEATURE_EXTRACTOR, FACE_IDENTIFIER, GeneralHead],
})
export class InferenceModule implements OnApplicationShutdown {
  constructor(
    @Inject(FACE_DETECTOR) private readonly detector: FaceDetectorModel,
    @Inject(FEATURE_EXTRACTOR) private readonly trunk: FeatureExtractor,
    @Inject(GeneralHead) private readonly head: GeneralHead,
    @Optional() @Inject(INFERENCE_POOL) private readonly pool: InferencePool | null,
    @Optional() @Inject(FACE_IDENTIFIER) private readonly identifier: FaceIdentifier | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.detector.release(), this.trunk.release(), this.head.release(), this.pool?.close(), this.identifier?.release()]);
  }
}

export { GeneralHeadResolver, HEAD_RESOLVER };
