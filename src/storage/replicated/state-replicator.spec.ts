import { describe, expect, it } from 'vitest';
import { CodedError } from '../../contracts/errors';
import { PendingWrites } from './pending-writes';
import type { TableSpec } from './replicated-tables';
import type { CapturedChange, LocalReplica } from './sqlite-replica';
import { ReplicaKv, ReplicationLink, StateReplicator } from './state-replicator';
import { ClusterStartupError, StartupRetry } from './startup-retry';

const USERS: TableSpec = { table: 'users', bucket: 'iex-state-users', columns: ['id', 'name'], key: ['id'], blobs: [] };
const enc = new TextEncoder();
const dec = new TextDecoder();
const row = (id: string, name: string) => JSON.stringify({ id, name });

type Change = { key: string; value: Uint8Array | null; revision: number };

/** One JetStream server's buckets: a revision per write, watchers in revision order, a switch to fail writes. */
class FakeJetStream {
  readonly buckets = new Map<string, { seq: number; live: Map<string, { value: Uint8Array; revision: number }>; watchers: Set<(c: Change) => void> }>();
  up = true;
  status(): 'connected' | 'disconnected' {
    return this.up ? 'connected' : 'disconnected';
  }
  /** A view of the server from one node: `held` delays that node's deliveries (a slow watcher). */
  node(): ReplicationLink & { held: (() => void)[] | null; release(): void } {
    const n = {
      held: null as (() => void)[] | null,
      status: () => this.status(),
      kv: async (bucket: string) => this.kvFor(bucket, (c, deliver) => (n.held ? n.held.push(() => deliver(c)) : deliver(c))),
      release() {
        const h = n.held ?? [];
        n.held = null;
        for (const d of h) d();
      },
    };
    return n;
  }
  private kvFor(bucket: string, route: (c: Change, deliver: (c: Change) => void) => void): ReplicaKv {
    const b = this.buckets.get(bucket) ?? { seq: 0, live: new Map(), watchers: new Set() };
    this.buckets.set(bucket, b);
    const write = (key: string, value: Uint8Array | null): number => {
      if (!this.up) throw new Error('NATS is not reachable');
      const revision = ++b.seq;
      if (value) b.live.set(key, { value, revision });
      else b.live.delete(key);
      for (const w of b.watchers) w({ key, value, revision });
      return revision;
    };
    return {
      put: async (k, v) => write(k, v),
      delete: async (k) => void write(k, null),
      get: async (k) => b.live.get(k) ?? null,
      keys: async () => [...b.live.keys()],
      watch: async (onChange) => {
        const w = (c: Change) => route(c, onChange);
        for (const [key, e] of [...b.live.entries()].sort((x, y) => x[1].revision - y[1].revision)) onChange({ key, ...e });
        b.watchers.add(w);
        return () => b.watchers.delete(w);
      },
    };
  }
}

/** A node's tables as a Map; write() makes the change a repository would and reports it like the SQLite triggers. */
class MapReplica implements LocalReplica {
  readonly data = new Map<string, string>();
  readonly revisions = new Map<string, number>();
  private captured: CapturedChange[] = [];
  set(key: string, json: string | null): void {
    this.captured.push({ spec: USERS, key, before: this.data.get(key) ?? null });
    if (json === null) this.data.delete(key);
    else this.data.set(key, json);
  }
  capture<T>(write: () => T) {
    this.captured = [];
    const result = write();
    const changes = this.captured;
    this.captured = [];
    return { result, changes };
  }
  read(_s: TableSpec, key: string) {
    return this.data.get(key) ?? null;
  }
  apply(s: TableSpec, key: string, json: string | null, revision: number) {
    const changed = this.read(s, key) !== json;
    if (json === null) this.data.delete(key);
    else this.data.set(key, json);
    this.revisions.set(s.bucket, Math.max(this.revisions.get(s.bucket) ?? 0, revision));
    return changed;
  }
  keys() {
    return [...this.data.keys()];
  }
  rows(): Map<string, string> {
    return new Map(this.data);
  }
  revision(bucket: string) {
    return this.revisions.get(bucket) ?? null;
  }
  markJoined(bucket: string) {
    if (!this.revisions.has(bucket)) this.revisions.set(bucket, 0);
  }
}

const quiet = { log: () => {}, warn: () => {}, error: () => {} };

async function startNode(js: FakeJetStream, replica = new MapReplica()) {
  const pending = new PendingWrites();
  const link = js.node();
  const rep = new StateReplicator(link, replica, [USERS], pending, quiet);
  await rep.start();
  return { replica, pending, rep, link };
}

describe('StateReplicator (fake JetStream)', () => {
  it('a write on A is applied on A at once, stored in the bucket, and applied on B by its watcher', async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    const b = await startNode(js);
    const heard: unknown[] = [];
    b.rep.on((c) => heard.push(c));
    await a.pending.run(async () => a.rep.write(() => a.replica.set('ana', row('ana', 'Ana'))));
    expect(a.replica.data.get('ana')).toBe(row('ana', 'Ana'));
    expect(heard).toEqual([{ table: 'users', key: ['ana'], exists: true }]);
    expect(dec.decode(js.buckets.get('iex-state-users')!.live.get('ana')!.value)).toBe(row('ana', 'Ana'));
    expect(b.replica.data.get('ana')).toBe(row('ana', 'Ana'));
    await a.pending.run(async () => a.rep.write(() => a.replica.set('ana', null)));
    expect(b.replica.data.has('ana')).toBe(false);
  });

  it('concurrent writes to one key end as the stream ordered them, on both nodes', async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    const b = await startNode(js);
    // both write locally before either hears the other; B's put reaches the stream last
    a.link.held = [];
    b.link.held = [];
    const wa = a.pending.run(async () => a.rep.write(() => a.replica.set('k', row('k', 'from A'))));
    const wb = b.pending.run(async () => b.rep.write(() => b.replica.set('k', row('k', 'from B'))));
    await Promise.all([wa, wb]);
    expect(a.replica.data.get('k')).toBe(row('k', 'from A')); // read-your-writes until the stream is heard
    a.link.release();
    b.link.release();
    expect(a.replica.data.get('k')).toBe(row('k', 'from B'));
    expect(b.replica.data.get('k')).toBe(row('k', 'from B'));
  });

  it('a node started later loads the full state; one that was away drops rows deleted meanwhile', async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    await a.pending.run(async () => {
      a.rep.write(() => a.replica.set('u1', row('u1', 'One')));
      a.rep.write(() => a.replica.set('u2', row('u2', 'Two')));
    });
    const b = await startNode(js);
    expect([...b.replica.data.keys()].sort()).toEqual(['u1', 'u2']);
    b.rep.stop();
    await a.pending.run(async () => a.rep.write(() => a.replica.set('u1', null)));
    const again = await startNode(js, b.replica);
    expect([...again.replica.data.keys()]).toEqual(['u2']);
  });

  it("a database's first join imports its rows the cluster lacks", async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    await a.pending.run(async () => a.rep.write(() => a.replica.set('shared', row('shared', 'cluster'))));
    const old = new MapReplica();
    old.data.set('mine', row('mine', 'Mine'));
    old.data.set('shared', row('shared', 'stale'));
    await startNode(js, old);
    expect(old.data.get('shared')).toBe(row('shared', 'cluster'));
    expect(a.replica.data.get('mine')).toBe(row('mine', 'Mine'));
  });

  it('refuses a write while NATS is unreachable, before changing anything', async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    js.up = false;
    expect(() => a.rep.write(() => a.replica.set('x', row('x', 'X')))).toThrow(CodedError);
    expect(a.replica.data.has('x')).toBe(false);
  });

  it('a put JetStream refuses answers unavailable and undoes the local change', async () => {
    const js = new FakeJetStream();
    const a = await startNode(js);
    await a.pending.run(async () => a.rep.write(() => a.replica.set('x', row('x', 'old'))));
    const kv = js.buckets.get('iex-state-users')!;
    const origSeq = kv.seq;
    // connected, but the store fails the put (no quorum)
    const failing = a.pending.run(async () => {
      js.up = false;
      const status = js.status;
      js.status = () => 'connected';
      try {
        a.rep.write(() => a.replica.set('x', row('x', 'new')));
      } finally {
        js.status = status;
      }
    });
    await expect(failing).rejects.toMatchObject({ code: 'unavailable' });
    expect(a.replica.data.get('x')).toBe(row('x', 'old'));
    expect(kv.seq).toBe(origSeq);
  });

  it('skips a value that is not a row of its table and keeps applying the next ones', async () => {
    const js = new FakeJetStream();
    const bad: LocalReplica = Object.assign(new MapReplica(), {
      apply(this: MapReplica, s: TableSpec, key: string, json: string | null, revision: number) {
        if (json === 'garbage') throw new Error('not JSON');
        return MapReplica.prototype.apply.call(this, s, key, json, revision);
      },
    });
    const b = await startNode(js, bad as MapReplica);
    const kv = await js.node().kv(USERS.bucket);
    await kv.put('g', enc.encode('garbage'));
    await kv.put('ok', enc.encode(row('ok', 'OK')));
    expect(b.replica.data.get('ok')).toBe(row('ok', 'OK'));
    expect(b.rep.stats()).toEqual({ applied: 1, rejected: 1 });
  });
});

describe('PendingWrites', () => {
  it('run() resolves only after the writes made inside it, at any await depth', async () => {
    const p = new PendingWrites();
    let stored = false;
    let release!: () => void;
    const result = p.run(async () => {
      await Promise.resolve();
      p.track(new Promise<void>((r) => (release = r)).then(() => void (stored = true)));
      return 42;
    });
    let settled = false;
    void result.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    release();
    expect(await result).toBe(42);
    expect(stored).toBe(true);
  });

  it('a failed write makes run() reject with unavailable; writes outside a scope are drained', async () => {
    const p = new PendingWrites();
    await expect(p.run(async () => p.track(Promise.reject(new Error('timeout'))))).rejects.toMatchObject({ code: 'unavailable' });
    const errors: unknown[] = [];
    const q = new PendingWrites((e) => errors.push(e));
    let done = false;
    q.track(new Promise<void>((r) => setTimeout(r, 5)).then(() => void (done = true)));
    q.track(Promise.reject(new Error('lost')));
    await q.drain();
    expect(done).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('two requests do not wait for each other', async () => {
    const p = new PendingWrites();
    const slow = p.run(async () => p.track(new Promise<void>(() => {})));
    await expect(p.run(async () => 'fast')).resolves.toBe('fast');
    void slow;
  });
});

describe('StateReplicator start-up while JetStream does not answer', () => {
  const timeout = () => Object.assign(new Error('timeout'), { name: 'TimeoutError' });

  it('retries a bucket whose watch times out (a stream electing its leader), then loads it', async () => {
    const js = new FakeJetStream();
    const warnings: string[] = [];
    const inner = js.node();
    let watchFailures = 2;
    const link: ReplicationLink = {
      status: () => inner.status(),
      kv: async (bucket) => {
        const kv = await inner.kv(bucket);
        return { ...kv, keys: () => kv.keys(), get: (k) => kv.get(k), put: (k, v) => kv.put(k, v), delete: (k) => kv.delete(k), watch: (fn) => (watchFailures-- > 0 ? Promise.reject(timeout()) : kv.watch(fn)) };
      },
    };
    await js.node().kv(USERS.bucket).then((kv) => kv.put('ana', enc.encode(row('ana', 'Ana'))));
    const replica = new MapReplica();
    const rep = new StateReplicator(link, replica, [USERS], new PendingWrites(), quiet);
    let t = 0;
    await rep.start(new StartupRetry({ servers: 'nats://a:4222', warn: (m) => warnings.push(m), now: () => t, sleep: async (ms) => void (t += ms) }));
    expect(replica.data.get('ana')).toBe(row('ana', 'Ana'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('loading bucket iex-state-users failed (attempt 1: timeout)');
  });

  it('loads the buckets at once: a bucket that waits does not hold the others back', async () => {
    const MODELS: TableSpec = { ...USERS, table: 'models', bucket: 'iex-state-models' };
    const js = new FakeJetStream();
    const inner = js.node();
    let modelsWatched!: () => void;
    const modelsWatching = new Promise<void>((r) => (modelsWatched = r));
    // users' bucket answers only once the models bucket is loaded and watched: one bucket after another never ends
    const link: ReplicationLink = {
      status: () => inner.status(),
      kv: async (bucket) => {
        const kv = await inner.kv(bucket);
        if (bucket === USERS.bucket) await modelsWatching;
        return bucket === MODELS.bucket ? { ...kv, keys: () => kv.keys(), get: (k) => kv.get(k), put: (k, v) => kv.put(k, v), delete: (k) => kv.delete(k), watch: (fn) => kv.watch(fn).finally(modelsWatched) } : kv;
      },
    };
    const rep = new StateReplicator(link, new MapReplica(), [USERS, MODELS], new PendingWrites(), quiet);
    const stuck = new Promise<string>((r) => setTimeout(() => r('stuck'), 2000).unref());
    expect(await Promise.race([rep.start().then(() => 'started'), stuck])).toBe('started');
  });

  it('a bucket that never loads fails the start only after the others loaded, naming that bucket', async () => {
    const MODELS: TableSpec = { ...USERS, table: 'models', bucket: 'iex-state-models' };
    const js = new FakeJetStream();
    const inner = js.node();
    const opened: string[] = [];
    const link: ReplicationLink = {
      status: () => inner.status(),
      kv: (bucket) => (bucket === USERS.bucket ? Promise.reject(timeout()) : inner.kv(bucket).then((kv) => (opened.push(bucket), kv))),
    };
    const rep = new StateReplicator(link, new MapReplica(), [USERS, MODELS], new PendingWrites(), quiet);
    let t = 0;
    const err = await rep
      .start(new StartupRetry({ servers: 'nats://a:4222', warn: () => undefined, now: () => t, sleep: async (ms) => void (t += ms) }))
      .catch((e: unknown) => e);
    expect(opened).toEqual([MODELS.bucket]);
    expect((err as Error).message).toMatch(/^cannot join the cluster: loading bucket iex-state-users: /);
  });

  it('gives up after the start-up budget with a ClusterStartupError naming the bucket and NATS_URL', async () => {
    const link: ReplicationLink = { status: () => 'connected', kv: () => Promise.reject(timeout()) };
    const rep = new StateReplicator(link, new MapReplica(), [USERS], new PendingWrites(), quiet);
    let t = 0;
    const err = await rep
      .start(new StartupRetry({ servers: 'nats://a:4222', warn: () => undefined, now: () => t, sleep: async (ms) => void (t += ms) }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterStartupError);
    expect((err as Error).message).toMatch(/^cannot join the cluster: loading bucket iex-state-users: JetStream at nats:\/\/a:4222 \(NATS_URL\) did not answer within 60 s: timeout$/);
    expect(t).toBeGreaterThanOrEqual(60_000);
  });
});
