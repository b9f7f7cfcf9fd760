import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { CONFIG, Config } from '../config';
import { EventBus } from '../events/event-bus';
import { CLUSTER_EVENT_BUS } from '../events/events.module';
import { ClusterMetrics } from './cluster.metrics';
import { ClusterMembership, KvMembership, SingleNodeMembership } from './membership';
import { NatsEventBus } from './nats-event-bus';
import { connectNats } from './nats-js.link';
import { NatsLink } from './nats.link';
import { NodeLoadMeter } from './node-load.meter';
import { CameraPlacement, LocalCameraPlacement } from '../contracts/ports/camera-placement';
import { LeasePlacement } from './placement/lease-placement';

/** This node's name, and whether it is part of a cluster (NATS_URL set). */
export class NodeIdentity {
  constructor(
    readonly id: string,
    readonly clustered: boolean,
  ) {}
}

/** What main.ts brings to the app when NATS_URL is set: this node's id and its open link (the app closes it). */
export interface ClusterJoin {
  nodeId: string;
  link: NatsLink;
}

/**
 * Connects to NATS_URL (before the app is built, so an unreachable NATS stops the node with a clear message and exit
 * code 2 instead of a half-built app). `nodeId`: NODE_ID, else the id kept in DATA_DIR (storage/node-id.ts).
 */
export async function joinCluster(config: Config, nodeId: string): Promise<ClusterJoin | null> {
  if (!config.NATS_URL) return null;
  const link = await connectNats({ servers: config.NATS_URL, name: `iexpressionnet/${nodeId}`, replicas: config.NATS_REPLICAS });
  return { nodeId, link };
}

/** Starts membership once every module is ready; on shutdown leaves the cluster, then closes the link. */
@Injectable()
class ClusterLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(ClusterMembership) private readonly membership: ClusterMembership,
    @Optional() @Inject(CLUSTER_EVENT_BUS) private readonly bus: NatsEventBus | null,
    @Optional() @Inject(NatsLink) private readonly link: NatsLink | null,
    @Inject(CameraPlacement) private readonly placement: CameraPlacement,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.membership.start();
  }

  async onApplicationShutdown(): Promise<void> {
    // Whichever shutdown hook runs first (CameraService's or this), the leases are released while the link is open.
    await this.placement.detach().catch(() => undefined);
    await this.membership.stop();
    this.bus?.stop();
    await this.link?.close();
  }
}

/**
 * The node's place in a cluster (global). Always: NodeIdentity, ClusterMetrics, ClusterMembership (a single node's is
 * just itself). With a ClusterJoin: the NatsLink, and NatsEventBus under CLUSTER_EVENT_BUS, which EventsModule then
 * binds as the app's EventBus; membership heartbeats into the `iex-nodes` bucket.
 */
@Module({})
export class ClusterModule {
  static forRoot(join: ClusterJoin | null): DynamicModule {
    const meter = {
      provide: NodeLoadMeter,
      inject: [EventBus, NodeIdentity],
      useFactory: (bus: EventBus, node: NodeIdentity) => new NodeLoadMeter(bus, { nodeId: node.id }),
    };
    const common = [
      { provide: ClusterMetrics, useValue: new ClusterMetrics() },
      meter,
      ClusterLifecycle,
    ];
    if (!join) {
      return {
        module: ClusterModule,
        global: true,
        providers: [
          ...common,
          { provide: NodeIdentity, inject: [CONFIG], useFactory: (c: Config) => new NodeIdentity(c.NODE_ID ?? 'local', false) },
          // every camera runs here
          { provide: CameraPlacement, inject: [NodeIdentity], useFactory: (node: NodeIdentity) => new LocalCameraPlacement(node.id) },
          {
            provide: ClusterMembership,
            inject: [NodeIdentity, NodeLoadMeter],
            useFactory: (node: NodeIdentity, m: NodeLoadMeter) => new SingleNodeMembership(node.id, m),
          },
        ],
        exports: [NodeIdentity, ClusterMetrics, ClusterMembership, CameraPlacement],
      };
    }
    return {
      module: ClusterModule,
      global: true,
      providers: [
        ...common,
        { provide: NodeIdentity, useValue: new NodeIdentity(join.nodeId, true) },
        { provide: NatsLink, useValue: join.link },
        {
          provide: CLUSTER_EVENT_BUS,
          inject: [CONFIG, ClusterMetrics],
          useFactory: (c: Config, metrics: ClusterMetrics) =>
            new NatsEventBus(join.link, { nodeId: join.nodeId, bufferMax: c.NATS_BUFFER_MAX, metrics }),
        },
        {
          provide: ClusterMembership,
          inject: [CONFIG, NodeLoadMeter, ClusterMetrics],
          useFactory: (c: Config, m: NodeLoadMeter, metrics: ClusterMetrics) =>
            new KvMembership(join.link, m, { nodeId: join.nodeId, heartbeatMs: c.CLUSTER_HEARTBEAT_MS, metrics }),
        },
        {
          // camera leases in `iex-leases` (docs/CLUSTER.md, "Camera sharding"); CameraService runs what it holds
          provide: CameraPlacement,
          inject: [CONFIG, ClusterMembership, ClusterMetrics],
          useFactory: (c: Config, membership: ClusterMembership, metrics: ClusterMetrics) =>
            new LeasePlacement(join.link, {
              metrics,
              nodeId: join.nodeId,
              leaseTtlMs: c.CAMERA_LEASE_TTL_MS,
              reconcileMs: c.CAMERA_RECONCILE_MS,
              claimGraceMs: c.CAMERA_CLAIM_GRACE_MS,
              rebalanceMs: c.CAMERA_REBALANCE_MS,
              nodes: () => membership.view().nodes.map((n) => ({ id: n.id, load: n.load })),
              reportedState: (node, cameraId) => membership.reported(node)?.cameraStates?.[cameraId],
              log: new Logger('CameraPlacement'),
            }),
        },
      ],
      exports: [NodeIdentity, ClusterMetrics, ClusterMembership, NatsLink, CLUSTER_EVENT_BUS, CameraPlacement],
    };
  }
}
