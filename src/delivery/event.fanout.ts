import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import type { ServerMessage } from '../contracts/messages';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import { CAMERA_API, CameraApi, EVENT_SOURCE, EventSourceApi } from './delivery.tokens';
import { scrubSecrets } from './error-mapping';

/**
 * Pipeline events and camera status -> the connections subscribed to that camera. Each event is serialized once;
 * per-connection backpressure (Connection.sendEvent) drops for slow clients only. Synchronous and non-blocking:
 * the pipeline's Observable is never held up by a socket.
 */
@Injectable()
export class EventFanout implements OnModuleInit, OnModuleDestroy {
  private readonly subscription = new Subscription();

  constructor(
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(DeliveryMetrics) private readonly metrics: DeliveryMetrics,
    @Inject(CAMERA_API) private readonly cameras: CameraApi,
    @Inject(EVENT_SOURCE) private readonly source: EventSourceApi,
  ) {}

  onModuleInit(): void {
    const safely = (msg: ServerMessage) => {
      try {
        this.publish(msg);
      } catch {
        // A bad event must not end the subscription: delivery of the next ones matters more.
      }
    };
    this.subscription.add(this.source.events$.subscribe({ next: safely }));
    this.subscription.add(
      this.cameras.status$.subscribe({
        next: (s) =>
          safely({
            type: 'camera.status',
            cameraId: s.cameraId,
            state: s.state,
            ...(s.reason !== undefined ? { reason: scrubSecrets(s.reason) } : {}),
            ...(s.fps !== undefined ? { fps: s.fps } : {}),
            ts: s.ts,
          }),
      }),
    );
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  /**
   * Sends `msg` to every authenticated connection that wants it: camera-scoped messages (with a cameraId) to that
   * camera's subscribers, others to all. Returns how many connections got it.
   */
  publish(msg: ServerMessage): number {
    const cameraId = typeof (msg as { cameraId?: unknown }).cameraId === 'string' ? (msg as { cameraId: string }).cameraId : null;
    let json: string | null = null;
    let sent = 0;
    for (const c of this.connections) {
      if (!c.principal || (cameraId !== null && !c.events.has(cameraId))) continue;
      if (json === null) {
        if (msg.type === 'expression') {
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
