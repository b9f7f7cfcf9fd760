import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { CONFIG, Config } from '../config';
import { ExpressionTrunk, GeneralHead } from './expression.classifier';
import { GeneralHeadResolver, HEAD_RESOLVER } from './head.resolver';
import { OrtSessionFactory } from './ort.sessions';
import { YunetDetector } from './yunet.detector';

export const detectorPath = (c: Config): string => join(c.modelsDir, 'face-detection', `yunet_${c.DETECTOR_MODEL}_dynamic.onnx`);
export const trunkPath = (c: Config): string => join(c.modelsDir, 'general', 'trunk.onnx');
export const headPath = (c: Config): string => join(c.modelsDir, 'general', 'head.onnx');

/**
 * ONNX Runtime sessions, loaded once at startup (a missing model or an unavailable execution provider stops the
 * server with a message naming it) and shared by every camera.
 */
@Module({
  providers: [
    OrtSessionFactory,
    {
      provide: YunetDetector,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (f: OrtSessionFactory, c: Config) =>
        new YunetDetector(await f.create(detectorPath(c)), {
          size: c.DETECTOR_INPUT_SIZE,
          scoreThreshold: c.DETECTOR_SCORE_THRESHOLD,
          nmsIou: c.DETECTOR_NMS_IOU,
          minFacePixels: c.MIN_FACE_PIXELS,
        }),
    },
    {
      provide: ExpressionTrunk,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (f: OrtSessionFactory, c: Config) => new ExpressionTrunk(await f.create(trunkPath(c))),
    },
    {
      provide: GeneralHead,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: async (f: OrtSessionFactory, c: Config) => new GeneralHead(await f.create(headPath(c))),
    },
  ],
  exports: [OrtSessionFactory, YunetDetector, ExpressionTrunk, GeneralHead],
})
export class InferenceModule implements OnApplicationShutdown {
  constructor(
    @Inject(YunetDetector) private readonly detector: YunetDetector,
    @Inject(ExpressionTrunk) private readonly trunk: ExpressionTrunk,
    @Inject(GeneralHead) private readonly head: GeneralHead,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.detector.release(), this.trunk.release(), this.head.release()]);
  }
}

export { GeneralHeadResolver, HEAD_RESOLVER };
