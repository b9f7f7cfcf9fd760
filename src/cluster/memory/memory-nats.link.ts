import { KvBucket, KvBucketOptions, KvChange, KvConflictError, KvEntry, LinkMessage, LinkStatus, NatsLink, ObjectBucket, Unsubscribe } from '../nats.link';

/** Whether `subject` matches `pattern` (NATS wildcards: `*` one token, `>` one or more trailing tokens). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

interface Sub {
  link: MemoryNatsLink;
  pattern: string;
  queue?: string;
  onMessage: (m: LinkMessage) => void;
}

interface Stored {
  value: Uint8Array | null;
  revision: number;
  at: number;
}

class MemoryBucket {
  readonly entries = new Map<string, Stored>();
  readonly watchers = new Set<(c: KvChange) => void>();
  seq = 0;
  constructor(
    readonly name: string,
    readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  live(key: string): Stored | null {
    const e = this.entries.get(key);
    if (!e || e.value === null) return null;
    if (this.ttlMs > 0 && this.now() - e.at >= this.ttlMs) return null;
    return e;
  }

  write(key: string, value: Uint8Array | null): number {
    const revision = ++this.seq;
    this.entries.set(key, { value: value && Uint8Array.from(value), revision, at: this.now() });
    for (const w of this.watchers) w({ key, value: value && Uint8Array.from(value), revision });
    return revision;
  }
}

/**
 * An in-memory NATS that several MemoryNatsLinks share: subjects with wildcards, queue groups, request/reply, KV
 * buckets with a TTL on an injected clock, and a switch that takes the server away (disconnect()/reconnect()).
 * Synchronous delivery, so unit tests need no waiting. Like NATS 2.9, an expired KV entry is not announced to watchers.
 */
export class MemoryNatsHub {
  readonly subs = new Set<Sub>();
  readonly buckets = new Map<string, MemoryBucket>();
  readonly objectStores = new Map<string, Map<string, Uint8Array>>();
  readonly links = new Set<MemoryNatsLink>();
  /** Every message published, in order (subject, the sending link's name). */
  readonly published: { subject: string; from: string; data: Uint8Array }[] = [];
  private up = true;
  private rr = 0;

  constructor(readonly now: () => number = Date.now) {}

  link(name = `link-${this.links.size + 1}`): MemoryNatsLink {
    const l = new MemoryNatsLink(this, name);
    this.links.add(l);
    return l;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** The server goes away: every link turns `disconnected`, publishes throw, nothing is delivered. */
  disconnect(): void {
    this.up = false;
    for (const l of this.links) l.setStatus('disconnected');
  }

  /** The server is back: every link is `connected` before any of them hears it (so a flush reaches them all). */
  reconnect(): void {
    this.up = true;
    const changed = [...this.links].filter((l) => l.setStatus('connected', false));
    for (const l of changed) l.notify();
  }

  deliver(from: MemoryNatsLink, subject: string, data: Uint8Array, reply?: string): number {
    this.published.push({ subject, from: from.name, data: Uint8Array.from(data) });
    let n = 0;
    const groups = new Map<string, Sub[]>();
    for (const sub of [...this.subs]) {
      if (sub.link === from || sub.link.status() !== 'connected' || !subjectMatches(sub.pattern, subject)) continue; // noEcho
      if (sub.queue) {
        const g = groups.get(sub.queue) ?? [];
        g.push(sub);
        groups.set(sub.queue, g);
        continue;
      }
      sub.onMessage({ subject, data: Uint8Array.from(data), ...(reply ? { reply } : {}) });
      n++;
    }
    for (const g of groups.values()) {
      g[this.rr++ % g.length].onMessage({ subject, data: Uint8Array.from(data), ...(reply ? { reply } : {}) });
      n++;
    }
    return n;
  }

  bucket(name: string, ttlMs: number): MemoryBucket {
    let b = this.buckets.get(name);
    if (!b) {
      b = new MemoryBucket(name, ttlMs, this.now);
      this.buckets.set(name, b);
    }
    return b;
  }
}

export class MemoryNatsLink extends NatsLink {
  readonly servers = 'memory://';
  private current: LinkStatus = 'connected';
  private readonly listeners = new Set<(s: LinkStatus) => void>();
  private inbox = 0;

  constructor(
    private readonly hub: MemoryNatsHub,
    readonly name: string,
  ) {
    super();
    if (!hub.isUp) this.current = 'disconnected';
  }

  status(): LinkStatus {
    return this.current;
  }

  /** Whether the status changed; listeners hear of it now, or at notify() with `announce` false. */
  setStatus(s: LinkStatus, announce = true): boolean {
    if (this.current === 'closed' || this.current === s) return false;
    this.current = s;
    if (announce) this.notify();
    return true;
  }

  notify(): void {
    for (const l of [...this.listeners]) l(this.current);
  }

  onStatus(listener: (status: LinkStatus) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(subject: string, data: Uint8Array): void {
    this.usable();
    if (!/^[^\s*>]+$/.test(subject) || subject.split('.').some((t) => t === '')) throw new Error(`invalid subject ${subject}`);
    this.hub.deliver(this, subject, data);
  }

  subscribe(subject: string, onMessage: (msg: LinkMessage) => void, opts: { queue?: string } = {}): Unsubscribe {
    const sub: Sub = { link: this, pattern: subject, onMessage, ...(opts.queue ? { queue: opts.queue } : {}) };
    this.hub.subs.add(sub);
    return () => this.hub.subs.delete(sub);
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.usable();
    const inbox = `_INBOX.${this.name}.${++this.inbox}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`request to ${subject} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.subscribe(inbox, (m) => {
        clearTimeout(timer);
        stop();
        resolve(m.data);
      });
      // An own subscription would be skipped by the no-echo rule: the reply comes from another link, so it arrives.
      if (this.hub.deliver(this, subject, data, inbox) === 0) {
        clearTimeout(timer);
        stop();
        reject(new Error(`no responders on ${subject}`));
      }
    });
  }

  async kv(bucket: string, opts: KvBucketOptions = {}): Promise<KvBucket> {
    this.usable();
    const b = this.hub.bucket(bucket, opts.ttlMs ?? 0);
    const usable = () => this.usable();
    return {
      name: bucket,
      async put(key, value) {
        usable();
        return b.write(key, value);
      },
      async create(key, value) {
        usable();
        if (b.live(key)) throw new KvConflictError(bucket, key);
        return b.write(key, value);
      },
      async update(key, value, revision) {
        usable();
        const e = b.entries.get(key);
        if (!e || e.revision !== revision) throw new KvConflictError(bucket, key);
        return b.write(key, value);
      },
      async get(key): Promise<KvEntry | null> {
        usable();
        const e = b.live(key);
        return e ? { key, value: Uint8Array.from(e.value!), revision: e.revision } : null;
      },
      async delete(key) {
        usable();
        b.write(key, null);
      },
      async keys() {
        usable();
        return [...b.entries.keys()].filter((k) => b.live(k));
      },
      async watch(onChange) {
        usable();
        const live = [...b.entries.entries()].filter(([k]) => b.live(k)).sort((x, y) => x[1].revision - y[1].revision);
        for (const [key, e] of live) onChange({ key, value: Uint8Array.from(e.value!), revision: e.revision });
        b.watchers.add(onChange);
        return () => b.watchers.delete(onChange);
      },
    };
  }

  async objectStore(bucket: string): Promise<ObjectBucket> {
    this.usable();
    const objects = this.hub.objectStores.get(bucket) ?? new Map<string, Uint8Array>();
    this.hub.objectStores.set(bucket, objects);
    const usable = () => this.usable();
    return {
      name: bucket,
      async put(name, bytes) {
        usable();
        objects.set(name, Uint8Array.from(bytes));
      },
      async get(name) {
        usable();
        const b = objects.get(name);
        return b ? Uint8Array.from(b) : null;
      },
      async delete(name) {
        usable();
        objects.delete(name);
      },
      async list() {
        usable();
        return [...objects.keys()];
      },
    };
  }

  async close(): Promise<void> {
    for (const s of [...this.hub.subs]) if (s.link === this) this.hub.subs.delete(s);
    this.setStatus('closed');
    this.hub.links.delete(this);
  }

  private usable(): void {
    if (this.current === 'closed') throw new Error('link closed');
    if (!this.hub.isUp) throw new Error('NATS is not reachable');
  }
}
