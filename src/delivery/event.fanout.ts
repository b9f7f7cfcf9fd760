import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import type { ClientEvent, ClientEventName } from '../contracts/events';
import { EnvelopeOf, EventBus } from '../events/event-bus';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import { scrubSecrets } from './error-mapping';

/** Every event clients receive. */
const CLIENT_EVENTS = [
  'expression',
  'face.enter',
  'face.leave',
  'identity.changed',
  'camera.status',
  'camera.removed',
  'calibration.prompt',
  'calibration.sample',
  'calibration.captured',
  'finetune.progress',
  'finetune.failed',
  'model.updated',
] as const satisfies readonly ClientEventName[];
// A client-facing event added to EventMap but not to the list above fails to compile here.
const ALL_LISTED: [Exclude<ClientEventName, (typeof CLIENT_EVENTS)[number]>] extends [never] ? true : never = true;
void ALL_LISTED;

/**
 * The EventBus -> the WebSocket clients that should see each event. Audience (docs/CALIBRATION.md for the
 * personalization half): the connection whose command caused it (`meta.originId`, authenticated or not), and every
 * authenticated connection subscribed to a camera it concerns (`meta.cameraIds`, else the payload's `cameraId`);
 * an event about no camera at all goes to every authenticated connection. `meta.cameraIds: []` means "no camera":
 * only the origin gets it.
 *
 * Each event is serialized once; per-connection backpressure (Connection.sendEvent) drops for slow clients only.
 * Synchronous and non-blocking: the publisher (the pipeline's Observable) is never held up by a socket.
 */
@Injectable()
export class EventFanout implements OnModuleInit, OnModuleDestroy {
  private readonly subscription = new Subscription();

  constructor(
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(DeliveryMetrics) private readonly metrics: DeliveryMetrics,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  onModuleInit(): void {
    this.subscription.add(
      this.bus.on(...CLIENT_EVENTS).subscribe({
        next: (e) => {
          try {
            this.deliver(e);
          } catch {
            // A bad event must not end the subscription: delivery of the next ones matters more.
          }
        },
      }),
    );
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  /** Sends one event to its audience (above). Returns how many connections got it. */
  deliver({ payload, meta }: EnvelopeOf<ClientEventName>): number {
    const msg = atEdge(payload);
    const own = (msg as { cameraId?: unknown }).cameraId;
    const cameraIds = meta.cameraIds ?? (typeof own === 'string' ? [own] : null);
    let json: string | null = null;
    let sent = 0;
    for (const c of this.connections) {
      const wanted =
        (meta.originId !== undefined && c.id === meta.originId) ||
        (c.principal !== null && (cameraIds === null || cameraIds.some((id) => c.events.has(id))));
      if (!wanted) continue;
      if (json === null) {
        if (msg.type === 'expression') {
          // capture -> socket write, measured when the first socket gets it
          const latencyMs = Math.max(0, Date.now() - msg.ts);
          this.metrics.eventLatency.observe(latencyMs);
          json = JSON.stringify({ ...msg, latencyMs });
        } else {
          json = JSON.stringify(msg);
        }
      }
      if (c.sendEvent(json, msg.type)) sent++;
    }
    return sent;
  }
}

/** What the edge adds to an event before it leaves the server: no credentials in a camera's failure reason. */
function atEdge(e: ClientEvent): ClientEvent {
  if (e.type === 'camera.status' && e.reason !== undefined) return { ...e, reason: scrubSecrets(e.reason) };
  return e;
}
