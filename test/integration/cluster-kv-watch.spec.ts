/**
 * A KV watch across the death of the NATS server that holds its consumer (3 servers, a 3-replica bucket, real
 * nats-server): a write made afterwards reaches the watcher within seconds, each revision once and in order — not
 * after the ~60 s nats.js takes on its own to notice that the watch's consumer died with the server (docs/CLUSTER.md,
 * "Shared state").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, NatsJsLink } from '../../src/cluster/nats-js.link';
import type { KvBucket, KvChange } from '../../src/cluster/nats.link';
import { NatsCluster, requireNatsServer, startNatsCluster } from '../support/nats';

const hasNats = requireNatsServer();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BUCKET = 'kv-watch-test';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | false> | T | null | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last: ${last instanceof Error ? last.message : String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasNats)('KV watch when the NATS server holding its consumer dies (3-server cluster)', () => {
  let nats: NatsCluster;
  const links: NatsJsLink[] = [];

  beforeAll(async () => {
    nats = await startNatsCluster({ size: 3 });
    await nats.ready();
  }, 60_000);
  afterAll(async () => {
    for (const l of links) await l.close().catch(() => undefined);
    await nats?.stop();
  }, 30_000);

  async function link(name: string): Promise<NatsJsLink> {
    const l = await connectNats({ servers: nats.urls, name, replicas: 3 });
    links.push(l);
    return l;
  }

  it('a write after the kill reaches the watcher within seconds, each revision once and in order', async () => {
    const watcherLink = await link('watcher');
    const writerLink = await link('writer');
    // Creating the bucket right after the cluster formed can time out once or twice while JetStream settles.
    const open = (l: NatsJsLink) => until<KvBucket>('bucket', 30_000, () => l.kv(BUCKET, { history: 1 }));
    const writer = await open(writerLink);
    const watched = await open(watcherLink);
    const seen: KvChange[] = [];
    const stop = await watched.watch((c) => seen.push(c));
    let victim = -1;
    try {
      await writer.put('before', encoder.encode('1'));
      await until('the first write watched', 10_000, () => seen.some((c) => c.key === 'before'));

      // The watch is the bucket's only consumer: find the server it lives on (the JetStream API says) and kill that one.
      const list = JSON.parse(decoder.decode(await writerLink.request(`$JS.API.CONSUMER.LIST.KV_${BUCKET}`, encoder.encode('{}'), 5000))) as {
        consumers?: { cluster?: { leader?: string } }[];
      };
      expect(list.consumers?.length).toBe(1);
      const host = list.consumers![0].cluster?.leader;
      victim = nats.servers.findIndex((s) => s.name === host);
      expect(victim, `the consumer's server (${host})`).toBeGreaterThanOrEqual(0);
      await nats.servers[victim].kill();

      // Written once the survivors take writes again (the stream may be electing a leader).
      await until('a write after the kill', 60_000, async () => (await writer.put('after', encoder.encode('2'))) > 0);
      const written = Date.now();
      await until('the later write watched', 45_000, () => seen.some((c) => c.key === 'after'));
      const lagMs = Date.now() - written;
      // nats.js alone: 60 s (two missed 30-s idle heartbeats) before it even re-creates the consumer.
      expect(lagMs, `the write reached the watcher ${lagMs} ms after it was stored`).toBeLessThan(20_000);
      await writer.delete('before');
      await until('the delete watched', 30_000, () => seen.some((c) => c.key === 'before' && c.value === null));
      // each revision once, in increasing order, across the re-opened watch
      const revisions = seen.map((c) => c.revision);
      expect(revisions).toEqual([...new Set(revisions)].sort((a, b) => a - b));
      expect(seen.map((c) => [c.key, c.value && decoder.decode(c.value)])).toEqual([
        ['before', '1'],
        ['after', '2'],
        ['before', null],
      ]);
    } finally {
      stop();
      if (victim >= 0) await nats.servers[victim].restart();
    }
  }, 180_000);
});
