import { DynamicModule, Module } from '@nestjs/common';
import { Config } from './config';
import { ConfigModule } from './config.module';
import { DeliveryModule } from './delivery/delivery.module';
import { IdentityResolver } from './personalization/identity/identity.resolver';
import { CameraService } from './ingest/camera.service';
import { IngestModule } from './ingest/ingest.module';
import { PipelineMetrics } from './pipeline/pipeline.metrics';
import { FRAME_SOURCE, PipelineModule } from './pipeline/pipeline.module';
import { PipelineService } from './pipeline/pipeline.service';
import { PersonalizationApiModule } from './personalization/personalization-api.module';
import { StorageModule } from './storage/storage.module';

/**
 * The whole server: cameras (ingest) → pipeline (detect, track, classify) → delivery (WS/REST).
 * The pipeline's dynamic module is built once and imported wherever its exports are needed.
 */
@Module({})
export class AppModule {
  static forRoot(config: Config): DynamicModule {
    const pipeline = PipelineModule.forRoot({
      // PersonalizationApiModule exports HEAD_RESOLVER: a bound/assigned user's active head scores their faces
      imports: [IngestModule, PersonalizationApiModule],
      providers: [{ provide: FRAME_SOURCE, inject: [CameraService], useFactory: (c: CameraService) => c.frames$ }],
    });
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        StorageModule,
        IngestModule,
        pipeline,
        PersonalizationApiModule,
        DeliveryModule.forRoot({
          imports: [IngestModule, pipeline, PersonalizationApiModule],
          cameras: { useExisting: CameraService },
          // camera.add's userId is checked like camera.bind's
          users: { useExisting: IdentityResolver },
          events: { useExisting: PipelineService },
          metrics: { inject: [PipelineMetrics], useFactory: (m: PipelineMetrics) => [m.registry] },
        }),
      ],
    };
  }
}
