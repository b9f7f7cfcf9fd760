import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { CONFIG, Config } from '../config';
import { BlobStore } from '../storage/ports/blob.store';
import { ModelRepository } from '../storage/ports/model.repository';
import { UserRepository } from '../storage/ports/user.repository';
import { FinetuneRunner } from './finetune/finetune.runner';
import { FinetuneService } from './finetune/finetune.service';
import { generalAssetPaths } from './finetune/general-assets';
import { HeadForward } from './onnx/head-forward';
import { ModelFileStore } from './registry/model-files';
import { ModelRegistry } from './registry/model.registry';

/**
 * Fine-tuning and the per-user model registry. Needs StorageModule (global) and CONFIG.
 * Not here yet: users/samples services, calibration, identity binding (HeadResolver), WS/REST handlers.
 */
@Module({
  providers: [
    // the repositories and the BlobStore come from StorageModule (global)
    { provide: ModelFileStore, inject: [BlobStore], useFactory: (blobs: BlobStore) => new ModelFileStore(blobs) },
    { provide: HeadForward, inject: [CONFIG], useFactory: (c: Config) => HeadForward.create(generalAssetPaths(c.modelsDir).headForward, { threads: c.ORT_THREADS }) },
    {
      provide: ModelRegistry,
      inject: [ModelFileStore, ModelRepository, UserRepository, HeadForward, CONFIG],
      useFactory: async (files: ModelFileStore, models: ModelRepository, users: UserRepository, forward: HeadForward, c: Config) => {
        const registry = new ModelRegistry(files, models, users, forward, join(c.modelsDir, 'general', 'expression.onnx'));
        await registry.init();
        return registry;
      },
    },
    { provide: FinetuneRunner, useFactory: () => new FinetuneRunner() },
    {
      provide: FinetuneService,
      inject: [FinetuneRunner, ModelRegistry, CONFIG],
      useFactory: (runner: FinetuneRunner, registry: ModelRegistry, c: Config) =>
        new FinetuneService(runner, registry, {
          paths: generalAssetPaths(c.modelsDir),
          threads: c.FINETUNE_THREADS,
          minSamplesPerLabel: c.FINETUNE_MIN_SAMPLES_PER_LABEL,
          maxConcurrent: 1,
        }),
    },
  ],
  exports: [ModelRegistry, FinetuneService, HeadForward],
})
export class PersonalizationModule implements OnApplicationShutdown {
  constructor(@Inject(HeadForward) private readonly forward: HeadForward) {}
  async onApplicationShutdown(): Promise<void> {
    await this.forward.release();
  }
}
