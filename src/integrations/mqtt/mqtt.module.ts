import { DynamicModule, Inject, Module, ModuleMetadata, OnApplicationBootstrap, OnApplicationShutdown, Optional, Provider } from '@nestjs/common';
import { hostname } from 'node:os';
import { CONFIG, Config } from '../../config';
import { CAMERA_DIRECTORY, CameraDirectory } from '../../contracts/ports/camera-directory';
import { EventBus } from '../../events/event-bus';
import { EventsModule } from '../../events/events.module';
import { UserRepository } from '../../storage/ports/user.repository';
import { MqttJsConnector } from './mqtt.adapter';
import { MqttMetrics } from './mqtt.metrics';
import { MqttConnector } from './mqtt.port';
import { MqttPublisher, MqttSettings } from './mqtt.publisher';
import { topicSegment } from './mqtt.topics';

type Binding = Omit<Exclude<Provider, abstract new (...args: never[]) => unknown>, 'provide'>;

export interface MqttModuleOptions {
  /** Modules that export what `cameras` refers to (IngestModule for `useExisting: CameraService`). */
  imports?: ModuleMetadata['imports'];
  /** CAMERA_DIRECTORY: camera names for Home Assistant, and which cameras exist (ingest's CameraService). */
  cameras: Binding;
  /** The server's version, shown on Home Assistant's device page. */
  version: string;
}

/** The publisher, or null when MQTT_URL is unset (MQTT off). */
export const MQTT_PUBLISHER = Symbol('MQTT_PUBLISHER');

/** The publisher's settings from the environment (null: MQTT off). */
export function mqttSettings(config: Config, version: string): MqttSettings | null {
  if (!config.MQTT_URL) return null;
  return {
    url: config.MQTT_URL,
    username: config.MQTT_USERNAME,
    password: config.MQTT_PASSWORD,
    clientId: config.MQTT_CLIENT_ID ?? `${topicSegment(config.MQTT_TOPIC_PREFIX)}-${topicSegment(hostname())}`,
    prefix: config.MQTT_TOPIC_PREFIX,
    rateMs: config.MQTT_RATE_MS,
    bufferMax: config.MQTT_BUFFER_MAX,
    reconnectMinMs: config.MQTT_RECONNECT_MIN_MS,
    reconnectMaxMs: Math.max(config.MQTT_RECONNECT_MIN_MS, config.MQTT_RECONNECT_MAX_MS),
    haDiscovery: config.MQTT_HA_DISCOVERY,
    haPrefix: config.MQTT_HA_PREFIX,
    version,
  };
}

/**
 * MQTT (and Home Assistant discovery) on the EventBus: with MQTT_URL set, MqttPublisher subscribes to the pipeline's
 * events and publishes them (docs/INTEGRATIONS.md). MqttMetrics is always provided, so /metrics has the same series
 * with MQTT off (connected 0). The `mqtt` client sits behind the MqttConnector port (mqtt.adapter.ts).
 */
@Module({})
export class MqttModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Optional() @Inject(MQTT_PUBLISHER) private readonly publisher: MqttPublisher | null) {}

  static forRoot(options: MqttModuleOptions): DynamicModule {
    return {
      module: MqttModule,
      imports: [EventsModule, ...(options.imports ?? [])],
      providers: [
        MqttMetrics,
        { provide: MqttConnector, useClass: MqttJsConnector },
        { provide: CAMERA_DIRECTORY, ...options.cameras } as Provider,
        {
          provide: MQTT_PUBLISHER,
          inject: [CONFIG, MqttConnector, EventBus, CAMERA_DIRECTORY, UserRepository, MqttMetrics],
          useFactory: (config: Config, connector: MqttConnector, bus: EventBus, cameras: CameraDirectory, users: UserRepository, metrics: MqttMetrics) => {
            const settings = mqttSettings(config, options.version);
            return settings ? new MqttPublisher(settings, connector, bus, cameras, users, metrics) : null;
          },
        },
      ],
      exports: [MqttMetrics, MQTT_PUBLISHER],
    };
  }

  // After every module's init: the pipeline publishes on the bus by then, and the camera directory is loaded.
  onApplicationBootstrap(): void {
    this.publisher?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher?.stop();
  }
}
