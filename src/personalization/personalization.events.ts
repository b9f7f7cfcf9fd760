import { Inject, Injectable, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { PersonalizationEvent } from '../contracts/events';
import type { Connection } from '../delivery/connection';
import { ConnectionRegistry } from '../delivery/connection.registry';

/** Where an event goes: the connection that started the operation (if any) and the subscribers of these cameras. */
export interface EventAudience {
  origin?: Connection | null;
  cameraIds: readonly string[];
}

/**
 * Sends calibration / fine-tune events. Rule (docs/CALIBRATION.md): to the connection that started the operation,
 * plus every authenticated connection subscribed to a camera it concerns (calibration: its camera; fine-tuning and
 * model updates: the cameras bound to that user). Each connection gets an event once. The ConnectionRegistry is
 * looked up lazily (delivery imports handlers from every module, so it cannot be a constructor dependency here);
 * without a gateway only the origin is served.
 */
@Injectable()
export class PersonalizationEvents {
  private registry: Iterable<Connection> | null = null;

  constructor(@Optional() @Inject(ModuleRef) private readonly moduleRef?: ModuleRef) {}

  publish(msg: PersonalizationEvent, audience: EventAudience): number {
    const json = JSON.stringify(msg);
    let sent = 0;
    const seen = new Set<Connection>();
    const send = (c: Connection) => {
      if (seen.has(c)) return;
      seen.add(c);
      if (c.sendEvent(json, msg.type)) sent++;
    };
    if (audience.origin) send(audience.origin);
    if (audience.cameraIds.length) {
      for (const c of this.connections()) {
        if (c.principal && audience.cameraIds.some((id) => c.events.has(id))) send(c);
      }
    }
    return sent;
  }

  private connections(): Iterable<Connection> {
    if (!this.registry) {
      try {
        this.registry = this.moduleRef?.get(ConnectionRegistry, { strict: false }) ?? null;
      } catch {
        return [];
      }
    }
    return this.registry ?? [];
  }
}
