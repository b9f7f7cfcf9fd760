import { Observable } from 'rxjs';
import { EVENT_SCOPE, EventMap, EventMeta, EventName, subjectOf } from '../contracts/events';
import { EnvelopeOf, EventBus } from '../events/event-bus';
import { RxEventBus } from '../events/rx-event-bus';
import type { ClusterMetrics } from './cluster.metrics';
import { LinkMessage, NatsLink, Unsubscribe } from './nats.link';

/** Every event subject (contracts/events.ts subjectOf): one subscription receives the whole tree. */
export const EVENT_SUBJECTS = 'iex.v1.>';
/** Prefix of the subjects commands are forwarded on (`iex.v1.cmd.<nodeId>`): not events, never delivered as such. */
export const COMMAND_SUBJECTS = 'iex.v1.cmd.';

export interface NatsEventBusOptions {
  nodeId: string;
  /** Events kept while NATS is unreachable (NATS_BUFFER_MAX); beyond it the oldest are dropped and counted. */
  bufferMax: number;
  metrics: ClusterMetrics;
}

/** What travels on NATS: the envelope, JSON. `meta.node` is the publishing node, `meta.ts` its publish time. */
interface Wire {
  name: EventName;
  payload: unknown;
  meta: EventMeta;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The EventBus of a node in a cluster: an RxEventBus for this process (local subscribers get local events
 * synchronously, inside publish(), exactly as on a single node), plus NATS for the other nodes:
 * - an event of `cluster` scope (contracts EVENT_SCOPE) published here is also sent on `subjectOf(name, payload)`,
 *   JSON, with `meta.node` = this node (set for local subscribers too); `face.observed` stays here;
 * - the other nodes' events (one subscription to `iex.v1.>`) are delivered to local subscribers once, with their
 *   meta as sent (node, ts, originId, cameraIds) and their payload as sent (so `expression.ts` stays the capture time
 *   and EventFanout's latencyMs stays capture → delivery, across nodes as far as their clocks agree);
 * - this node's own events never come back (the link does not echo; a message naming this node is ignored too);
 * - while NATS is away, events for it wait in a bounded buffer (NATS_BUFFER_MAX, oldest dropped first and counted:
 *   the nats.js client itself would queue without a bound) and are sent when it returns; local delivery never stops.
 *
 * Delivery to the other nodes is at most once (core NATS): a node that is down misses what was published meanwhile.
 */
export class NatsEventBus extends EventBus {
  private readonly buffer: { subject: string; data: Uint8Array }[] = [];
  private readonly stops: Unsubscribe[] = [];

  constructor(
    private readonly link: NatsLink,
    private readonly options: NatsEventBusOptions,
    private readonly local: RxEventBus = new RxEventBus(),
  ) {
    super();
    this.stops.push(this.link.subscribe(EVENT_SUBJECTS, (m) => this.receive(m)));
    this.stops.push(
      this.link.onStatus((s) => {
        this.options.metrics.connected.set(s === 'connected' ? 1 : 0);
        if (s === 'connected') this.flush();
      }),
    );
    this.options.metrics.connected.set(this.link.status() === 'connected' ? 1 : 0);
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  publish<K extends EventName>(name: K, payload: EventMap[K], meta?: Partial<EventMeta>): void {
    const full: Partial<EventMeta> = { ...meta, node: meta?.node ?? this.options.nodeId, ts: meta?.ts ?? Date.now() };
    this.local.publish(name, payload, full);
    if (EVENT_SCOPE[name] !== 'cluster' || full.node !== this.options.nodeId) return;
    let wire: { subject: string; data: Uint8Array };
    try {
      wire = { subject: subjectOf(name, payload), data: encoder.encode(JSON.stringify({ name, payload, meta: full })) };
    } catch {
      this.options.metrics.eventsDropped.inc({ reason: 'error' });
      return;
    }
    if (this.link.status() !== 'connected') return this.hold(wire);
    if (this.buffer.length > 0) this.flush();
    this.send(wire);
  }

  on<K extends EventName>(...names: K[]): Observable<EnvelopeOf<K>> {
    return this.local.on(...names);
  }

  /** A node-scoped event: whether this process listens. A cluster-scoped one: always (another node may listen). */
  wants(name: EventName): boolean {
    return EVENT_SCOPE[name] === 'cluster' || this.local.wants(name);
  }

  /** Stops receiving and sending (the link stays open: its owner closes it). */
  stop(): void {
    for (const s of this.stops.splice(0)) s();
    this.buffer.length = 0;
    this.options.metrics.eventsBuffered.set(0);
  }

  private send(wire: { subject: string; data: Uint8Array }): boolean {
    try {
      this.link.publish(wire.subject, wire.data);
      this.options.metrics.eventsSent.inc();
      return true;
    } catch {
      this.options.metrics.eventsDropped.inc({ reason: 'error' });
      return false;
    }
  }

  private hold(wire: { subject: string; data: Uint8Array }): void {
    if (this.options.bufferMax === 0) {
      this.options.metrics.eventsDropped.inc({ reason: 'buffer_full' });
      return;
    }
    if (this.buffer.length >= this.options.bufferMax) {
      this.buffer.shift();
      this.options.metrics.eventsDropped.inc({ reason: 'buffer_full' });
    }
    this.buffer.push(wire);
    this.options.metrics.eventsBuffered.set(this.buffer.length);
  }

  /** NATS is back: the held events go first, in publish order. */
  private flush(): void {
    while (this.buffer.length > 0 && this.link.status() === 'connected') {
      this.send(this.buffer.shift()!);
    }
    this.options.metrics.eventsBuffered.set(this.buffer.length);
  }

  private receive(msg: LinkMessage): void {
    // Commands forwarded to a node (delivery/command-forwarder.ts) share the `iex.v1.` tree but are no events.
    if (msg.subject.startsWith(COMMAND_SUBJECTS)) return;
    let wire: Wire;
    try {
      wire = JSON.parse(decoder.decode(msg.data)) as Wire;
    } catch {
      this.options.metrics.eventsDropped.inc({ reason: 'invalid' });
      return;
    }
    const valid =
      wire !== null &&
      typeof wire === 'object' &&
      typeof wire.name === 'string' &&
      Object.hasOwn(EVENT_SCOPE, wire.name) &&
      EVENT_SCOPE[wire.name] === 'cluster' &&
      wire.payload !== null &&
      typeof wire.payload === 'object' &&
      wire.meta !== null &&
      typeof wire.meta === 'object' &&
      typeof wire.meta.ts === 'number' &&
      typeof wire.meta.node === 'string';
    if (!valid) {
      this.options.metrics.eventsDropped.inc({ reason: 'invalid' });
      return;
    }
    if (wire.meta.node === this.options.nodeId) return; // our own, should the link ever echo
    this.options.metrics.eventsReceived.inc();
    this.local.publish(wire.name, wire.payload as EventMap[EventName], wire.meta);
  }
}
