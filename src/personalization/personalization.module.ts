import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { CONFIG, Config } from '../config';
import { HeadForward } from '../inference/heads/head-forward';
import { OrtModule } from '../inference/ort.module';
import { OrtSessionFactory } from '../inference/ort.sessions';
import { BlobStore } from '../storage/ports/blob.store';
import { ModelRepository } from '../storage/ports/model.repository';
import { UserRepository } from '../storage/ports/user.repository';
import { ReplicatedChanges } from '../contracts/ports/replicated-changes';
import { FinetuneRunner } from './finetune/finetune.runner';
import { FinetuneService } from './finetune/finetune.service';
import { finetuneSession } from './finetune/finetune.sessions';
import { generalAssetPaths, loadGeneralHead, trunkSha256 } from './finetune/general-assets';
import { ModelFileStore } from './registry/model-files';
import { ModelRegistry } from './registry/model.registry';

/**
 * Fine-tuning and the per-user model registry. Needs StorageModule (global) and CONFIG; models load through OrtModule's factory.
 * Not here yet: users/samples services, calibration, identity binding (HeadResolver), WS/REST handlers.
 */
@Module({
  imports: [OrtModule],
  providers: [
    // the repositories and the BlobStore come from StorageModule (global)
    { provide: ModelFileStore, inject: [BlobStore], useFactory: (blobs: BlobStore) => new ModelFileStore(blobs) },
    {
      // the personal heads run on the server's factory: EXECUTION_PROVIDER, ORT_THREADS and ORT_SPIN like every model
      provide: HeadForward,
      inject: [OrtSessionFactory, CONFIG],
      useFactory: (f: OrtSessionFactory, c: Config) => HeadForward.create(f, generalAssetPaths(c.modelsDir).headForward),
    },
    {
      provide: ModelRegistry,
      inject: [ModelFileStore, ModelRepository, UserRepository, HeadForward, CONFIG, { token: ReplicatedChanges, optional: true }],
      useFactory: async (files: ModelFileStore, models: ModelRepository, users: UserRepository, forward: HeadForward, c: Config, changes?: ReplicatedChanges) => {
        const paths = generalAssetPaths(c.modelsDir);
        // the general head (blended versions score with both) and the shipped trunk's identity (a head runs only on
        // the trunk it was trained on: docs/PERSONALIZATION.md, "When the trunk changes")
        const registry = new ModelRegistry(files, models, users, forward, join(c.modelsDir, 'general', 'expression.onnx'), {
          general: loadGeneralHead(paths.head),
          trunkSha256: await trunkSha256(paths.trunk),
          gate: c.PERSONAL_GATE,
        });
        await registry.init();
        // clustered: another node's fine-tune or activation reaches this node as rows; serve the head they name
        changes?.on((ch) => {
          if (ch.table !== 'users' && ch.table !== 'models') return;
          registry.refresh(ch.key[0]).catch((e: Error) => new Logger('ModelRegistry').error(`user ${ch.key[0]}: ${e.message}`));
        });
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
          session: finetuneSession(c),
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
