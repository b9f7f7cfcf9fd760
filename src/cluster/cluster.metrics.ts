import { Counter, Gauge, Registry } from 'prom-client';

/** The cluster's metrics, in their own registry (added to /metrics by the app). Labels are bounded: no ids. */
export class ClusterMetrics {
  readonly registry = new Registry();

  readonly connected = new Gauge({
    name: 'iexpr_cluster_nats_connected',
    help: '1 while this node is connected to NATS, 0 while it reconnects (always 0 on a single node)',
    registers: [this.registry],
  });
  readonly eventsSent = new Counter({
    name: 'iexpr_cluster_events_sent_total',
    help: 'Events this node published on NATS for the other nodes',
    registers: [this.registry],
  });
  readonly eventsReceived = new Counter({
    name: 'iexpr_cluster_events_received_total',
    help: "Other nodes' events received from NATS and delivered to this node's subscribers",
    registers: [this.registry],
  });
  readonly eventsBuffered = new Gauge({
    name: 'iexpr_cluster_events_buffered',
    help: 'Events waiting for NATS to come back (at most NATS_BUFFER_MAX)',
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'iexpr_cluster_events_dropped_total',
    help: 'Events not sent to the other nodes: buffer_full (NATS away longer than NATS_BUFFER_MAX events), error (publish failed), invalid (a received message that is no event)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly cameraLeases = new Gauge({
    name: 'iexpr_cluster_camera_leases',
    help: 'Cameras this node holds the lease of, and runs (docs/CLUSTER.md, "Camera sharding")',
    registers: [this.registry],
  });
  readonly cameraClaims = new Counter({
    name: 'iexpr_cluster_camera_claims_total',
    help: 'Camera leases this node claimed (a new camera, or one whose node died or released it)',
    registers: [this.registry],
  });
  readonly cameraStops = new Counter({
    name: 'iexpr_cluster_camera_stops_total',
    help: 'Cameras this node stopped running: rebalance, removed (no longer stored), shutdown, lost (a renewal refused, or not acknowledged before the lease could expire)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly heartbeatsFailed = new Counter({
    name: 'iexpr_cluster_heartbeats_failed_total',
    help: 'Membership heartbeats JetStream did not acknowledge (NATS away)',
    registers: [this.registry],
  });
}
