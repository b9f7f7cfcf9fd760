import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module';
import { BinaryFrames } from './binary-frames';
import { CameraAccess } from './camera-access';
import { CamerasController } from './cameras.controller';
import { CodedErrorFilter } from './coded-error.filter';
import { CommandRouter } from './command.router';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import {
  CAMERA_API,
  EVENT_SOURCE,
  METRICS_REGISTRIES,
  NO_EVENTS,
  NO_USERS,
  UNAVAILABLE_CAMERA_API,
  USER_DIRECTORY,
} from './delivery.tokens';
import { EventFanout } from './event.fanout';
import { ExpressionGateway } from './expression.gateway';
import { AuthHandler } from './handlers/auth.handler';
import { BrowserOpenHandler } from './handlers/browser-open.handler';
import { CameraAddHandler, CameraListHandler, CameraRemoveHandler, CameraRetryHandler } from './handlers/camera.handlers';
import { SubscribeHandler, UnsubscribeHandler } from './handlers/subscription.handlers';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { PreviewService } from './preview.service';

type Binding = Omit<Exclude<Provider, abstract new (...args: never[]) => unknown>, 'provide'>;

export interface DeliveryOptions {
  /** Modules that export what the bindings below refer to (e.g. IngestModule for `useExisting: CameraService`). */
  imports?: ModuleMetadata['imports'];
  /** CAMERA_API: ingest's CameraService. Unset: every camera command answers `unavailable`. */
  cameras?: Binding;
  /** EVENT_SOURCE: the pipeline (`events$`). Unset: no events. */
  events?: Binding;
  /** METRICS_REGISTRIES: extra prom-client registries for /metrics (e.g. `{ useFactory: (p) => [p.metrics.registry], inject: [PipelineService] }`). */
  metrics?: Binding;
  /** USER_DIRECTORY: who a camera's `userId` may name (personalization's IdentityResolver). Unset: no users exist. */
  users?: Binding;
}

/**
 * The WebSocket gateway (/ws), REST (/api/cameras, /api/health), /metrics, and authentication (AuthModule, whose
 * guard covers every route of the app). Needs CONFIG and SqliteDatabase from their global modules.
 */
@Module({})
export class DeliveryModule {
  static forRoot(options: DeliveryOptions = {}): DynamicModule {
    return {
      module: DeliveryModule,
      imports: [DiscoveryModule, AuthModule, ...(options.imports ?? [])],
      controllers: [CamerasController, HealthController, MetricsController],
      providers: [
        { provide: CAMERA_API, ...(options.cameras ?? { useValue: UNAVAILABLE_CAMERA_API }) } as Provider,
        { provide: EVENT_SOURCE, ...(options.events ?? { useValue: NO_EVENTS }) } as Provider,
        { provide: METRICS_REGISTRIES, ...(options.metrics ?? { useValue: [] }) } as Provider,
        { provide: USER_DIRECTORY, ...(options.users ?? { useValue: NO_USERS }) } as Provider,
        { provide: APP_FILTER, useClass: CodedErrorFilter },
        DeliveryMetrics,
        ConnectionRegistry,
        EventFanout,
        PreviewService,
        CameraAccess,
        CommandRouter,
        BinaryFrames,
        ExpressionGateway,
        AuthHandler,
        SubscribeHandler,
        UnsubscribeHandler,
        CameraAddHandler,
        CameraRemoveHandler,
        CameraListHandler,
        CameraRetryHandler,
        BrowserOpenHandler,
      ],
      exports: [EventFanout, ConnectionRegistry, CameraAccess, AuthModule],
    };
  }
}
