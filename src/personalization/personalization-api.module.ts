import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { CONFIG, Config } from '../config';
import { CAMERA_DIRECTORY } from '../contracts/ports/camera-directory';
import { EventsModule } from '../events/events.module';
import { FACE_RECOGNIZER } from '../inference/face.recognizer';
import { HEAD_RESOLVER } from '../inference/head.resolver';
import { FaceEmbeddingsModule } from '../inference/embedding/face-embeddings';
import { InferenceModule } from '../inference/inference.module';
import { CALIBRATION_SETTINGS, CalibrationService, CalibrationSettings } from './calibration/calibration.service';
import { FaceStore } from './faces/face.store';
import { FacesService } from './faces/faces.service';
import { GalleryFaceRecognizer } from './identity/face-recognizer';
import { IdentityResolver } from './identity/identity.resolver';
import { PersonalizationModule } from './personalization.module';
import { DEFAULT_PHOTO_LIMITS, PHOTO_LIMITS, PhotoFaces, PhotoLimits } from './samples/photo-faces';
import { DEFAULT_QUALITY } from './samples/sample-quality';
import { SampleStore } from './samples/sample.store';
import { SamplesService } from './samples/samples.service';
import { TrunkRetrainer } from './users/trunk.retrainer';
import { FinetuneJobs } from './users/finetune.jobs';
import { UserLifecycle } from './users/user.lifecycle';
import { UsersService } from './users/users.service';

type Binding = Omit<Exclude<Provider, abstract new (...args: never[]) => unknown>, 'provide'>;

export interface PersonalizationApiOptions {
  /** Modules that export what the bindings below refer to (e.g. IngestModule for `useExisting: CameraService`). */
  imports?: ModuleMetadata['imports'];
  /** CAMERA_DIRECTORY (contracts/ports/camera-directory.ts): the cameras users are bound to; ingest's CameraService. */
  cameras: Binding;
}

/**
 * Users, identity binding (the real HEAD_RESOLVER), samples, calibration and fine-tune jobs, on top of
 * PersonalizationModule (fine-tuning, model registry). The edge that exposes them (the WS handlers in
 * delivery/handlers/personalization.handlers.ts, delivery/users.controller.ts, delivery/photo-upload.interceptor.ts)
 * lives in delivery, which imports this module.
 *
 * It imports neither ingest nor the pipeline nor delivery: the cameras come through the CAMERA_DIRECTORY binding,
 * pipeline events (expression, face.enter/leave, face.observed, camera.status) are read on the EventBus, and
 * calibration / fine-tune events are published there for the gateway to fan out. Wiring (AppModule): build it once,
 *   const personalization = PersonalizationApiModule.forRoot({ imports: [IngestModule], cameras: { useExisting: CameraService } });
 * and import that one value wherever it is needed (the pipeline's imports for HEAD_RESOLVER, DeliveryModule's).
 */
@Module({})
export class PersonalizationApiModule {
  static forRoot(options: PersonalizationApiOptions): DynamicModule {
    return {
      module: PersonalizationApiModule,
      imports: [EventsModule, PersonalizationModule, InferenceModule, FaceEmbeddingsModule, ...(options.imports ?? [])],
      providers: [
        { provide: CAMERA_DIRECTORY, ...options.cameras } as Provider,
        IdentityResolver,
        { provide: HEAD_RESOLVER, useExisting: IdentityResolver },
        // live recognition's gallery (the pipeline uses it when IDENTITY=face)
        GalleryFaceRecognizer,
        { provide: FACE_RECOGNIZER, useExisting: GalleryFaceRecognizer },
        SampleStore,
        FaceStore,
        FacesService,
        { provide: PHOTO_LIMITS, useValue: DEFAULT_PHOTO_LIMITS satisfies PhotoLimits },
        PhotoFaces,
        SamplesService,
        UsersService,
        {
          provide: CALIBRATION_SETTINGS,
          inject: [CONFIG],
          useFactory: (c: Config): CalibrationSettings => ({
            quality: DEFAULT_QUALITY,
            defaultSecondsPerLabel: 3,
            defaultFramesPerLabel: 10,
            rejectIntervalMs: 300,
            staleFrameMs: 1000,
            // with IDENTITY=face every calibrating frame's faces are embedded in the pipeline: wait for those
            enrolFaces: c.IDENTITY === 'face',
          }),
        },
        CalibrationService,
        FinetuneJobs,
        // heads trained on another trunk than the shipped one: retrained from their samples after start-up
        TrunkRetrainer,
        UserLifecycle,
      ],
      exports: [
        HEAD_RESOLVER,
        FACE_RECOGNIZER,
        IdentityResolver,
        UsersService,
        UserLifecycle,
        SamplesService,
        SampleStore,
        FacesService,
        FaceStore,
        PHOTO_LIMITS,
        CalibrationService,
        FinetuneJobs,
        TrunkRetrainer,
        PersonalizationModule,
      ],
    };
  }
}
