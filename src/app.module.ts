import { DynamicModule, Module } from '@nestjs/common';
import { ClusterMetrics } from './cluster/cluster.metrics';
import { ClusterJoin, ClusterModule } from './cluster/cluster.module';
import { Config } from './config';
import { ConfigModule } from './config.module';
import { DeliveryModule } from './delivery/delivery.module';
import { EventsModule } from './events/events.module';
import { IdentityResolver } from './personalization/identity/identity.resolver';
import { CameraService } from './ingest/camera.service';
import { IngestModule } from './ingest/ingest.module';
import { PipelineMetrics } from './pipeline/pipeline.metrics';
import { FRAME_SOURCE, PipelineModule } from './pipeline/pipeline.module';
import { PipelineService } from './pipeline/pipeline.service';
import { PersonalizationApiModule } from './personalization/personalization-api.module';
import { StorageModule } from './storage/storage.module';
import { ReplicatedStorageModule } from './storage/replicated/replicated-storage.module';
import { HistoryMetrics } from './history/history.metrics';
import { HistoryModule } from './history/history.module';
import { MqttMetrics } from './integrations/mqtt/mqtt.metrics';
import { MqttModule } from './integrations/mqtt/mqtt.module';
import { VERSION } from './delivery/health.controller';

/**
 * The whole server: cameras (ingest) → pipeline (detect, track, classify) → delivery (WS/REST), with personalization
 * beside the pipeline; they talk over the EventBus (EventsModule). The dynamic modules are built once and imported
 * wherever their exports are needed.
 */
@Module({})
export class AppModule {
  /** `cluster`: this node's open NATS link when NATS_URL is set (main.ts connects first, with joinCluster). */
  static forRoot(config: Config, options: { cluster?: ClusterJoin | null } = {}): DynamicModule {
    if (config.NATS_URL && !options.cluster) throw new Error('NATS_URL is set: connect first (joinCluster) and pass the link');
    // Built once and imported wherever needed (one instance). Personalization sees the cameras through its
    // CAMERA_DIRECTORY port and the pipeline through the EventBus, so it imports neither.
    const personalization = PersonalizationApiModule.forRoot({ imports: [IngestModule], cameras: { useExisting: CameraService } });
    const pipeline = PipelineModule.forRoot({
      // personalization exports HEAD_RESOLVER: a bound/assigned user's active head scores their faces
      imports: [IngestModule, personalization],
      providers: [{ provide: FRAME_SOURCE, inject: [CameraService], useFactory: (c: CameraService) => c.frames$ }],
    });
    // MQTT_URL set: expression state and face events to an MQTT broker, Home Assistant discovery (docs/INTEGRATIONS.md)
    const mqtt = MqttModule.forRoot({ imports: [IngestModule], cameras: { useExisting: CameraService }, version: VERSION });
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        // NATS_URL set: the same repositories, replicated through JetStream (docs/CLUSTER.md "Shared state")
        options.cluster ? ReplicatedStorageModule.forRoot(options.cluster.link) : StorageModule,
        EventsModule,
        // NATS_URL set: the networked EventBus and membership (docs/CLUSTER.md); else a single node's view of itself
        ClusterModule.forRoot(options.cluster ?? null),
        IngestModule,
        pipeline,
        personalization,
        mqtt,
        // expression events -> stored history (docs/HISTORY.md); its routes come with DeliveryModule's `history`
        HistoryModule,
        DeliveryModule.forRoot({
          imports: [IngestModule, pipeline, mqtt],
          personalization,
          cameras: { useExisting: CameraService },
          // camera.add's userId is checked like camera.bind's
          users: { useExisting: IdentityResolver },
          pipeline: { useExisting: PipelineService },
          history: true,
          metrics: {
            inject: [PipelineMetrics, MqttMetrics, HistoryMetrics, ClusterMetrics],
            useFactory: (m: PipelineMetrics, q: MqttMetrics, h: HistoryMetrics, c: ClusterMetrics) => [m.registry, q.registry, h.registry, c.registry],
          },
        }),
      ],
    };
  }
}
