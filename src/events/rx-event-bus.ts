import { Injectable } from '@nestjs/common';
import { merge, Observable, Subject } from 'rxjs';
import type { EventMap, EventMeta, EventName } from '../contracts/events';
import { Envelope, EnvelopeOf, EventBus } from './event-bus';

/**
 * The in-process bus: one Subject per event name, delivering synchronously inside `publish`, as the services'
 * own Subjects did before the bus. So a pipeline event reaches the sockets in the same tick, and events keep their
 * publish order across names. Subscribers share one envelope per publish (no copy: that is what keeps it as cheap
 * as a Subject); they must treat it as read-only, as they would a message from a networked bus.
 *
 * A subscriber that throws is RxJS's usual case (reported as an unhandled error, the others still get the event),
 * so subscribers that must keep going catch their own errors (EventFanout does).
 */
@Injectable()
export class RxEventBus extends EventBus {
  private readonly subjects = new Map<EventName, Subject<Envelope>>();

  publish<K extends EventName>(name: K, payload: EventMap[K], meta?: Partial<EventMeta>): void {
    const subject = this.subjects.get(name);
    if (!subject?.observed) return;
    subject.next({ name, payload, meta: withDefaults(meta) });
  }

  on<K extends EventName>(...names: K[]): Observable<EnvelopeOf<K>> {
    if (names.length === 0) throw new TypeError('EventBus.on needs at least one event name');
    const streams = [...new Set(names)].map((name) => this.subject(name).asObservable() as Observable<EnvelopeOf<K>>);
    return streams.length === 1 ? streams[0] : merge(...streams);
  }

  wants(name: EventName): boolean {
    return this.subjects.get(name)?.observed ?? false;
  }

  private subject(name: EventName): Subject<Envelope> {
    let subject = this.subjects.get(name);
    if (!subject) {
      subject = new Subject<Envelope>();
      this.subjects.set(name, subject);
    }
    return subject;
  }
}

function withDefaults(meta: Partial<EventMeta> | undefined): EventMeta {
  const out: EventMeta = { ts: meta?.ts ?? Date.now() };
  if (meta?.originId !== undefined) out.originId = meta.originId;
  if (meta?.cameraIds !== undefined) out.cameraIds = [...meta.cameraIds];
  if (meta?.node !== undefined) out.node = meta.node;
  return out;
}
