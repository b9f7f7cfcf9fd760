import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module';
import { EventsModule } from '../events/events.module';
import { HistoryModule } from '../history/history.module';
import { HOST_RESOLVER, systemResolver } from '../ingest/destination-policy';
import { BinaryFrames } from './binary-frames';
import { CameraAccess } from './camera-access';
import { CamerasController } from './cameras.controller';
import { ClusterController } from './cluster.controller';
import { CodedErrorFilter } from './coded-error.filter';
import { CommandRouter } from './command.router';
import { CommandForwarder } from './command-forwarder';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import {
  CAMERA_API,
  METRICS_REGISTRIES,
  NO_PIPELINE,
  NO_USERS,
  PIPELINE_CONTROL,
  UNAVAILABLE_CAMERA_API,
  USER_DIRECTORY,
} from './delivery.tokens';
import { EventFanout } from './event.fanout';
import { ExpressionGateway } from './expression.gateway';
import { AuthHandler } from './handlers/auth.handler';
import { BrowserOpenHandler } from './handlers/browser-open.handler';
import { CameraAddHandler, CameraListHandler, CameraRemoveHandler, CameraRetryHandler } from './handlers/camera.handlers';
import { PERSONALIZATION_HANDLERS } from './handlers/personalization.handlers';
import { SubscribeHandler, UnsubscribeHandler } from './handlers/subscription.handlers';
import { HealthController } from './health.controller';
import { HistoryController } from './history.controller';
import { MetricsController } from './metrics.controller';
import { PhotoUploadInterceptor } from './photo-upload.interceptor';
import { WriteAckInterceptor } from './write-ack.interceptor';
import { PreviewService } from './preview.service';
import { UsersController } from './users.controller';
import { WebhookDispatcher, WebhookMetrics } from './webhooks/webhook.dispatcher';
import { WebhooksService } from './webhooks/webhooks.service';
import { WebhooksController } from './webhooks.controller';

type Binding = Omit<Exclude<Provider, abstract new (...args: never[]) => unknown>, 'provide'>;

export interface DeliveryOptions {
  /** Modules that export what the bindings below refer to (e.g. IngestModule for `useExisting: CameraService`). */
  imports?: ModuleMetadata['imports'];
  /** CAMERA_API: ingest's CameraService. Unset: every camera command answers `unavailable`. */
  cameras?: Binding;
  /** PIPELINE_CONTROL: the pipeline, told to close a removed camera's tracks. Unset: nothing to close. */
  pipeline?: Binding;
  /** METRICS_REGISTRIES: extra prom-client registries for /metrics (e.g. `{ useFactory: (p) => [p.metrics.registry], inject: [PipelineService] }`). */
  metrics?: Binding;
  /** USER_DIRECTORY: who a camera's `userId` may name (personalization's IdentityResolver). Unset: no users exist. */
  users?: Binding;
  /**
   * PersonalizationApiModule.forRoot(...), built once by the app: adds /api/users (UsersController) and the user,
   * camera.bind, track.assign, calibration, fine-tune and model WS commands. Unset: none of them exist.
   */
  personalization?: DynamicModule;
  /** true: /api/history (HistoryController over HistoryModule's service, docs/HISTORY.md). */
  history?: boolean;
}

/**
 * The WebSocket gateway (/ws), REST (/api/cameras, /api/health), /metrics, and authentication (AuthModule, whose
 * guard covers every route of the app), and EventFanout, which sends the EventBus's client-facing events to the
 * sockets. Needs CONFIG and SqliteDatabase from their global modules.
 */
@Module({})
export class DeliveryModule {
  static forRoot(options: DeliveryOptions = {}): DynamicModule {
    const personalization = options.personalization;
    return {
      module: DeliveryModule,
      imports: [
        DiscoveryModule,
        AuthModule,
        EventsModule,
        ...(options.imports ?? []),
        ...(personalization ? [personalization] : []),
        ...(options.history ? [HistoryModule] : []),
      ],
      // personalization's routes after delivery's own, as they were registered before they moved here
      controllers: [CamerasController, HealthController, MetricsController, ClusterController, WebhooksController, ...(personalization ? [UsersController] : []), ...(options.history ? [HistoryController] : [])],
      providers: [
        { provide: CAMERA_API, ...(options.cameras ?? { useValue: UNAVAILABLE_CAMERA_API }) } as Provider,
        { provide: PIPELINE_CONTROL, ...(options.pipeline ?? { useValue: NO_PIPELINE }) } as Provider,
        { provide: METRICS_REGISTRIES, ...(options.metrics ?? { useValue: [] }) } as Provider,
        { provide: USER_DIRECTORY, ...(options.users ?? { useValue: NO_USERS }) } as Provider,
        { provide: APP_FILTER, useClass: CodedErrorFilter },
        // answers leave once their writes are stored (clustered: in JetStream too; docs/CLUSTER.md "Shared state")
        { provide: APP_INTERCEPTOR, useClass: WriteAckInterceptor },
        DeliveryMetrics,
        ConnectionRegistry,
        EventFanout,
        PreviewService,
        CameraAccess,
        CommandRouter,
        // cluster: camera-bound commands to the node that runs the camera (docs/CLUSTER.md, "Routed commands")
        CommandForwarder,
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
        // webhooks (docs/INTEGRATIONS.md): rules on the bus's expression events -> signed POSTs; the URL policy's DNS
        // look-up is the same port as the cameras' (tests override HOST_RESOLVER once for both)
        { provide: HOST_RESOLVER, useValue: systemResolver },
        WebhookMetrics,
        WebhookDispatcher,
        WebhooksService,
        ...(personalization ? [PhotoUploadInterceptor, ...PERSONALIZATION_HANDLERS] : []),
      ],
      exports: [EventFanout, ConnectionRegistry, CameraAccess, AuthModule],
    };
  }
}
