import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import type { CameraStatus } from '../contracts/cameras';
import type { CameraStatusEvent } from '../contracts/events';
import { EventBus } from '../events/event-bus';
import { CameraService } from './camera.service';

/** A state change as the `camera.status` event (the wire message): the same fields, in the same order, plus `type`. */
export function cameraStatusEvent(s: CameraStatus): CameraStatusEvent {
  return {
    type: 'camera.status',
    cameraId: s.cameraId,
    state: s.state,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(s.fps !== undefined ? { fps: s.fps } : {}),
    ts: s.ts,
  };
}

/**
 * Publishes CameraService's state changes on the EventBus as `camera.status`. Subscribed at module init, before
 * CameraService restarts the stored cameras (application bootstrap), so their first states are published too.
 */
@Injectable()
export class CameraEvents implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | null = null;

  constructor(
    @Inject(CameraService) private readonly cameras: CameraService,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  onModuleInit(): void {
    this.subscription ??= this.cameras.status$.subscribe((s) => this.bus.publish('camera.status', cameraStatusEvent(s)));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }
}
