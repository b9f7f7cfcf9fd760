import { Module } from '@nestjs/common';
import { CONFIG, Config } from '../config';
import { HEAD_RESOLVER } from '../inference/head.resolver';
import { InferenceModule } from '../inference/inference.module';
import { IngestModule } from '../ingest/ingest.module';
import { CALIBRATION_SETTINGS, CalibrationService, CalibrationSettings } from './calibration/calibration.service';
import { IdentityResolver } from './identity/identity.resolver';
import { PipelinePort } from './identity/pipeline.port';
import { PERSONALIZATION_COMMANDS } from './personalization.commands';
import { PersonalizationEvents } from './personalization.events';
import { PersonalizationModule } from './personalization.module';
import { DEFAULT_PHOTO_LIMITS, PHOTO_LIMITS, PhotoFaces, PhotoLimits } from './samples/photo-faces';
import { PhotoUploadInterceptor } from './samples/photo-upload.interceptor';
import { DEFAULT_QUALITY } from './samples/sample-quality';
import { SampleStore } from './samples/sample.store';
import { SamplesService } from './samples/samples.service';
import { FinetuneJobs } from './users/finetune.jobs';
import { UserLifecycle } from './users/user.lifecycle';
import { UsersService } from './users/users.service';
import { UsersController } from './users.controller';

/**
 * Users, identity binding (the real HEAD_RESOLVER), samples, calibration, and the personalization WS commands and
 * REST endpoints, on top of PersonalizationModule (fine-tuning, model registry).
 *
 * Wiring (AppModule): import this module, and list it in the pipeline's imports so PipelineService gets the exported
 * HEAD_RESOLVER (= IdentityResolver):
 *   PipelineModule.forRoot({ imports: [IngestModule, PersonalizationApiModule], providers: [{ provide: FRAME_SOURCE, ... }] }) It reads the pipeline (faces$, events$) and the gateway's
 * connections lazily (PipelinePort, PersonalizationEvents), so neither has to be imported here.
 */
@Module({
  imports: [PersonalizationModule, IngestModule, InferenceModule],
  controllers: [UsersController],
  providers: [
    PipelinePort,
    PersonalizationEvents,
    IdentityResolver,
    { provide: HEAD_RESOLVER, useExisting: IdentityResolver },
    SampleStore,
    { provide: PHOTO_LIMITS, useValue: DEFAULT_PHOTO_LIMITS satisfies PhotoLimits },
    PhotoFaces,
    PhotoUploadInterceptor,
    SamplesService,
    UsersService,
    {
      provide: CALIBRATION_SETTINGS,
      inject: [CONFIG],
      useFactory: (_c: Config): CalibrationSettings => ({
        quality: DEFAULT_QUALITY,
        defaultSecondsPerLabel: 3,
        defaultFramesPerLabel: 10,
        rejectIntervalMs: 300,
        staleFrameMs: 1000,
      }),
    },
    CalibrationService,
    FinetuneJobs,
    UserLifecycle,
    ...PERSONALIZATION_COMMANDS,
  ],
  exports: [HEAD_RESOLVER, IdentityResolver, UsersService, SamplesService, SampleStore, CalibrationService, FinetuneJobs, PersonalizationModule],
})
export class PersonalizationApiModule {}
