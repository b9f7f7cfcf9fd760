import type { Observable } from 'rxjs';
import type { ClientEvent, EventMap, EventMeta, EventName } from '../contracts/events';

/** One published event as a subscriber sees it. `meta.ts` is always set (publish time, ms epoch, if not given). */
export interface Envelope<K extends EventName = EventName> {
  name: K;
  payload: EventMap[K];
  meta: EventMeta;
}

/** The envelope of any one of `K` (a discriminated union on `name`, so `switch (e.name)` narrows `e.payload`). */
export type EnvelopeOf<K extends EventName> = { [N in K]: Envelope<N> }[K];

/**
 * How services talk without importing each other (docs/ARCHITECTURE.md): a producer publishes a named, serialisable
 * event (contracts/events.ts EventMap); whoever cares subscribes. Both the port and the Nest token:
 * `@Inject(EventBus) bus: EventBus`.
 *
 * Transport contract, so an in-process bus and a networked one (NATS, subjects from `subjectOf`) behave alike:
 * - payloads and meta are plain data (structured-cloneable; no class instances, no sockets), and a subscriber must
 *   not rely on getting the publisher's object;
 * - events of one name, and of one camera's sub-tree (`subjectOf`), arrive in publish order;
 * - a subscriber gets only what is published after it subscribed (hot, no replay).
 */
export abstract class EventBus {
  /** `meta.ts` defaults to now. Never throws because of a subscriber. */
  abstract publish<K extends EventName>(name: K, payload: EventMap[K], meta?: Partial<EventMeta>): void;

  /** The events of these names, from now on, until unsubscribed. */
  abstract on<K extends EventName>(...names: K[]): Observable<EnvelopeOf<K>>;

  /**
   * Whether anyone listens to `name` now, so a producer can skip building an expensive payload (face.observed crops
   * are copied only while a calibration session watches).
   */
  abstract wants(name: EventName): boolean;

  /** Publishes a client-facing event under its own `type` (for code that holds a message of several types). */
  emit(event: ClientEvent, meta?: Partial<EventMeta>): void {
    // ClientEventName guarantees EventMap[event.type] is event's own type; TS cannot correlate the union by itself.
    this.publish(event.type, event as EventMap[typeof event.type], meta);
  }
}
