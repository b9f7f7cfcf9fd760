import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Delivery's own metrics, in a registry per app (not prom-client's global one), so two apps in one process (tests)
 * never collide. Labels are bounded: message types and error codes from the protocol, never camera URLs.
 */
@Injectable()
export class DeliveryMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'iexpr_ws_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'iexpr_ws_connections_refused_total',
    help: 'WebSockets closed on arrival with 1013: over MAX_CONNECTIONS (reason="max_connections") or MAX_CONNECTIONS_PER_IP (reason="max_connections_per_ip")',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly connectionsRevoked = new Counter({
    name: 'iexpr_ws_connections_revoked_total',
    help: 'Open WebSockets closed with 4401 because their token stopped being valid (revoked, or auth turned on)',
    registers: [this.registry],
  });
  readonly messages = new Counter({
    name: 'iexpr_ws_messages_total',
    help: 'Client WebSocket messages by type (text: the message type or "invalid"; "binary" for frames)',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'iexpr_ws_errors_total',
    help: 'WebSocket error replies by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly eventsSent = new Counter({
    name: 'iexpr_ws_events_sent_total',
    help: 'Events written to WebSocket clients, by event type',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'iexpr_ws_events_dropped_total',
    help: 'Events not sent because the client had more than WS_MAX_BUFFERED_BYTES unsent (backpressure)',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly eventLatency = new Histogram({
    name: 'iexpr_ws_event_latency_ms',
    help: 'Frame capture to expression event written to the socket, ms',
    buckets: [10, 25, 50, 100, 150, 250, 500, 1000, 2500, 5000],
    registers: [this.registry],
  });
  readonly previewsSent = new Counter({
    name: 'iexpr_ws_previews_sent_total',
    help: 'JPEG previews written to clients',
    registers: [this.registry],
  });
  readonly previewBytes = new Counter({
    name: 'iexpr_ws_preview_bytes_total',
    help: 'Bytes of JPEG previews written to clients',
    registers: [this.registry],
  });
  readonly previewsDropped = new Counter({
    name: 'iexpr_ws_previews_dropped_total',
    help: 'Previews not sent: over the per-connection bandwidth (PREVIEW_BYTES_PER_SEC) or backpressure',
    labelNames: ['reason'],
    registers: [this.registry],
  });
}
