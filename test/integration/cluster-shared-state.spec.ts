/**
 * Shared state (docs/CLUSTER.md "Shared state") against real nats-servers: "nodes" = a SQLite database each + a NATS
 * connection each + the replicated repositories and blob store, as ReplicatedStorageModule wires them. One server:
 * rows and blobs written on A appear on B, deletes (and their cascades) propagate, concurrent writes converge, a late
 * node loads everything, nothing is written while NATS is away. Three servers with 3 replicas: one killed, nothing
 * acknowledged is lost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, NatsJsLink } from '../../src/cluster/nats-js.link';
import { SqliteDatabase } from '../../src/storage/database';
import { DataDirBlobStore } from '../../src/storage/files/data-dir.blob-store';
import { BlobNotFoundError } from '../../src/storage/ports/blob.store';
import { PendingWrites } from '../../src/storage/replicated/pending-writes';
import { BLOBS_BUCKET, ReplicatedBlobStore } from '../../src/storage/replicated/replicated.blob-store';
import {
  ReplicatedCameraRepository,
  ReplicatedFaceGallery,
  ReplicatedModelRepository,
  ReplicatedSampleRepository,
  ReplicatedUserRepository,
} from '../../src/storage/replicated/replicated.repositories';
import { REPLICATED_TABLES } from '../../src/storage/replicated/replicated-tables';
import { SqliteReplica } from '../../src/storage/replicated/sqlite-replica';
import { StateReplicator } from '../../src/storage/replicated/state-replicator';
import { StartupRetry } from '../../src/storage/replicated/startup-retry';
import { SqliteCameraRepository } from '../../src/storage/sqlite/camera.repository';
import { SqliteFaceGallery } from '../../src/storage/sqlite/face-gallery.repository';
import { SqliteModelRepository } from '../../src/storage/sqlite/model.repository';
import { SqliteSampleRepository } from '../../src/storage/sqlite/sample.repository';
import { SqliteUserRepository } from '../../src/storage/sqlite/user.repository';
import { NatsCluster, NatsServer, requireNatsServer, startNatsCluster, startNatsServer } from '../support/nats';

const hasNats = requireNatsServer();
const quiet = process.env.REPLICATION_LOG ? { log: console.log, warn: console.log, error: console.log } : { log: () => {}, warn: () => {}, error: () => {} };

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Node {
  dataDir: string;
  link: NatsJsLink;
  db: SqliteDatabase;
  pending: PendingWrites;
  rep: StateReplicator;
  users: ReplicatedUserRepository;
  samples: ReplicatedSampleRepository;
  models: ReplicatedModelRepository;
  faces: ReplicatedFaceGallery;
  cameras: ReplicatedCameraRepository;
  blobs: ReplicatedBlobStore;
  /** A request: the writes made inside are acknowledged (stored by JetStream) when it resolves. */
  request<T>(fn: () => T): Promise<T>;
  close(): Promise<void>;
}

const nodes: Node[] = [];

async function startNode(servers: string, opts: { dataDir?: string; replicas?: number; startupMs?: number } = {}): Promise<Node> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iexpr-state-'));
  const link = await connectNats({ servers, name: 'iexpressionnet/test', replicas: opts.replicas ?? 1 });
  const db = new SqliteDatabase(dataDir);
  const pending = new PendingWrites();
  const rep = new StateReplicator(link, new SqliteReplica(db.db, REPLICATED_TABLES), REPLICATED_TABLES, pending, quiet);
  // the same start-up retry as ReplicatedStorageModule: right after a server is killed, the streams elect new leaders
  const startup = new StartupRetry({ servers, warn: () => undefined, ...(opts.startupMs ? { totalMs: opts.startupMs } : {}) });
  await rep.start(startup);
  const objects = await startup.run(`object store ${BLOBS_BUCKET}`, () => link.objectStore(BLOBS_BUCKET));
  const node: Node = {
    dataDir,
    link,
    db,
    pending,
    rep,
    users: new ReplicatedUserRepository(new SqliteUserRepository(db), rep),
    samples: new ReplicatedSampleRepository(new SqliteSampleRepository(db), rep),
    models: new ReplicatedModelRepository(new SqliteModelRepository(db), rep),
    faces: new ReplicatedFaceGallery(new SqliteFaceGallery(db), rep),
    cameras: new ReplicatedCameraRepository(new SqliteCameraRepository(db), rep),
    blobs: new ReplicatedBlobStore(new DataDirBlobStore(dataDir), objects),
    request: (fn) => pending.run(async () => fn()),
    // (ReplicatedStorageModule does the same after start: a database's first join brings its files too)
    close: async () => {
      rep.stop();
      await pending.drain();
      await link.close();
      db.close();
      nodes.splice(nodes.indexOf(node), 1);
    },
  };
  // retried like the module's import: listing the object store creates a consumer, which times out while a killed
  // server's streams elect new leaders
  if (rep.firstJoin) await startup.run('importing local files', () => node.blobs.importLocal(['samples', 'faces', 'models']));
  nodes.push(node);
  return node;
}

const sample = (id: string, userId: string) => ({ id, userId, label: 'happy', file: `samples/${userId}/${id}.png`, source: 'upload', sha1: id, createdAt: 1 });
const face = (id: string, userId: string, sampleId: string | null) => ({
  id,
  userId,
  embedding: new Float32Array(128).fill(0.5),
  modelSha: 'm1',
  sampleId,
  source: 'sample' as const,
  file: `faces/${userId}/${id}.png`,
  createdAt: 2,
});

describe('replicated tables', () => {
  it('name every column of their SQLite tables (a migration that adds one must add it to REPLICATED_TABLES)', () => {
    const db = new SqliteDatabase(mkdtempSync(join(tmpdir(), 'iexpr-state-cols-')));
    try {
      expect(() => new SqliteReplica(db.db, REPLICATED_TABLES)).not.toThrow();
      db.db.exec('ALTER TABLE users ADD COLUMN nickname TEXT');
      expect(() => new SqliteReplica(db.db, REPLICATED_TABLES)).toThrow(/users.*nickname/);
    } finally {
      db.close();
    }
  });
});

afterEach(async () => {
  for (const n of [...nodes]) await n.close().catch(() => {});
});

describe.skipIf(!hasNats)('shared state on one nats-server', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  }, 30_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it('a user created on A is on B within 2 s; its samples, model and face follow; deleting it removes them all on B', async () => {
    const a = await startNode(nats.url);
    const b = await startNode(nats.url);
    const t0 = Date.now();
    await a.request(() => a.users.insert({ id: 'ana.1', name: 'Ana', createdAt: 1 }));
    await until('ana on B', () => b.users.get('ana.1') !== undefined, 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(b.users.get('ana.1')).toEqual({ id: 'ana.1', name: 'Ana', activeVersion: null, createdAt: 1 });

    await a.request(() => {
      a.samples.insert(sample('s1', 'ana.1'));
      a.faces.insert(face('f1', 'ana.1', 's1'));
      a.models.insert({ userId: 'ana.1', version: 1, file: 'models/ana.1/1.head.f32', sha256: 'x', trunkSha256: 't', metrics: { accuracy: 0.9 } as never, createdAt: 3 }, true);
    });
    // each table is its own KV bucket, so the rows may arrive in any order: the user's active version (users) can be
    // on B before the model row (models) is; wait for every row the checks below read
    await until(
      'the rows on B',
      () => b.models.activeVersion('ana.1') === 1 && b.models.get('ana.1', 1) !== undefined && b.faces.get('f1') !== undefined && b.samples.listByUser('ana.1').length === 1,
    );
    expect(Array.from(b.faces.get('f1')!.embedding)).toEqual(Array.from(face('f1', 'ana.1', 's1').embedding));
    expect(b.models.get('ana.1', 1)?.metrics).toEqual({ accuracy: 0.9 });

    // deleting the sample clears the face's sample_id (ON DELETE SET NULL): that update reaches B too
    await a.request(() => a.samples.delete('s1'));
    await until('sample gone and face updated on B', () => b.samples.listByUser('ana.1').length === 0 && b.faces.get('f1')?.sampleId === null);

    await a.request(() => a.users.delete('ana.1'));
    await until('ana gone on B', () => b.users.get('ana.1') === undefined);
    await until('cascades on B', () => b.faces.listByUser('ana.1').length === 0 && b.models.list('ana.1').length === 0);
    // and in the cluster: a node joining now finds nothing of hers
    const c = await startNode(nats.url);
    expect(c.faces.get('f1')).toBeUndefined();
    expect(c.models.list('ana.1')).toEqual([]);
  }, 30_000);

  it('a blob put on A is readable on B (fetched from the object store, then cached); remove reaches both', async () => {
    const a = await startNode(nats.url);
    const b = await startNode(nats.url);
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256); // several object-store chunks
    await a.blobs.put('samples/ana/s1.png', bytes);
    expect(await b.blobs.get('samples/ana/s1.png')).toEqual(bytes);
    expect(await b.blobs.list('samples')).toEqual(['samples/ana/s1.png']); // cached locally
    await a.blobs.remove('samples/ana');
    await expect(startNode(nats.url).then((c) => c.blobs.get('samples/ana/s1.png'))).rejects.toBeInstanceOf(BlobNotFoundError);
  }, 30_000);

  it('concurrent writes to one key converge to the same final row on both nodes', async () => {
    const a = await startNode(nats.url);
    const b = await startNode(nats.url);
    await a.request(() => a.users.insert({ id: 'bo', name: 'Bo', createdAt: 1 }));
    await until('bo on B', () => b.users.get('bo') !== undefined);
    for (let round = 0; round < 5; round++) {
      await Promise.all([a.request(() => a.users.rename('bo', `A${round}`)), b.request(() => b.users.rename('bo', `B${round}`))]);
    }
    const kv = await a.link.kv('iex-state-users');
    const stored = JSON.parse(new TextDecoder().decode((await kv.get('bo'))!.value)) as { name: string };
    await until('both equal to the stream', () => a.users.get('bo')?.name === stored.name && b.users.get('bo')?.name === stored.name);
    expect(['A4', 'B4']).toContain(stored.name);
  }, 30_000);

  it('a node started later gets the full state; one restarted drops what was deleted while it was away', async () => {
    const a = await startNode(nats.url);
    await a.request(() => {
      for (let i = 0; i < 150; i++) a.users.insert({ id: `u${i}`, name: `User ${i}`, createdAt: i });
      a.cameras.insert({ id: 'cam-1', name: 'Door', url: 'rtsp://x/1', kind: 'rtsp', fps: 5, loop: false, transport: 'tcp', userId: 'u1', createdAt: 1 });
    });
    const mine = (n: Node) => n.users.list().filter((u) => /^u\d+$/.test(u.id));
    const b = await startNode(nats.url);
    expect(mine(b)).toHaveLength(150);
    expect(b.cameras.get('cam-1')?.userId).toBe('u1');
    const dir = b.dataDir;
    await b.close();
    await a.request(() => a.users.delete('u7'));
    const again = await startNode(nats.url, { dataDir: dir });
    expect(again.users.get('u7')).toBeUndefined();
    expect(mine(again)).toHaveLength(149);
  }, 30_000);

  it("a single node's DATA_DIR joining for the first time brings its rows and files to the cluster", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iexpr-single-'));
    const single = new SqliteDatabase(dir);
    new SqliteUserRepository(single).insert({ id: 'solo', name: 'Solo', createdAt: 1 });
    new SqliteSampleRepository(single).insert(sample('solo-s1', 'solo'));
    single.close();
    await new DataDirBlobStore(dir).put('samples/solo/solo-s1.png', new Uint8Array([9, 8, 7]));
    await startNode(nats.url, { dataDir: dir });
    const b = await startNode(nats.url);
    expect(b.users.get('solo')?.name).toBe('Solo');
    expect(b.samples.listByUser('solo').map((x) => x.id)).toEqual(['solo-s1']);
    expect(await b.blobs.get('samples/solo/solo-s1.png')).toEqual(new Uint8Array([9, 8, 7]));
  }, 30_000);

  it("tokens written by another process on A's database file (npm run token) are replicated once A notices the commit", async () => {
    const a = await startNode(nats.url);
    const b = await startNode(nats.url);
    const cli = new SqliteDatabase(a.dataDir); // another connection, as the token CLI's process has
    try {
      cli.db.prepare("INSERT INTO tokens (id, name, scope, hash, created_at) VALUES ('t-cli', 'ops', 'admin', 'h1', 5)").run();
      await a.rep.adoptExternalChanges(); // what DataVersionWatcher's change triggers in ReplicatedStorageModule
      await until('token on B', () => b.db.db.prepare("SELECT 1 FROM tokens WHERE id = 't-cli'").get() !== undefined);
      cli.db.prepare("DELETE FROM tokens WHERE id = 't-cli'").run();
      await a.rep.adoptExternalChanges();
      await until('token revoked on B', () => b.db.db.prepare("SELECT 1 FROM tokens WHERE id = 't-cli'").get() === undefined);
    } finally {
      cli.close();
    }
  }, 30_000);

  it('while NATS is down a write is refused with unavailable before anything is written; afterwards writes flow again', async () => {
    const a = await startNode(nats.url);
    const b = await startNode(nats.url);
    await nats.kill();
    await until('A sees NATS gone', () => a.link.status() === 'disconnected');
    await expect(a.request(() => a.users.insert({ id: 'ghost', name: 'Ghost', createdAt: 1 }))).rejects.toMatchObject({ code: 'unavailable' });
    expect(a.users.get('ghost')).toBeUndefined();
    await nats.restart();
    await until('A reconnected', () => a.link.status() === 'connected');
    await until('a write accepted again', async () => {
      try {
        await a.request(() => a.users.insert({ id: 'back', name: 'Back', createdAt: 1 }));
        return true;
      } catch {
        return false;
      }
    });
    await until('back on B', () => b.users.get('back') !== undefined);
    expect(b.users.get('ghost')).toBeUndefined();
  }, 60_000);
});

describe.skipIf(!hasNats)('shared state on a 3-server cluster (NATS_REPLICAS=3)', () => {
  let cluster: NatsCluster;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    await cluster.ready();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('one server killed: every acknowledged write is still there, read back through the others', async () => {
    const a = await startNode(cluster.urls, { replicas: 3 });
    const acked: string[] = [];
    for (let i = 0; i < 40; i++) {
      await a.request(() => a.users.insert({ id: `r${i}`, name: `R${i}`, createdAt: i }));
      acked.push(`r${i}`);
    }
    await a.blobs.put('models/r1/1.head.f32', new Uint8Array([1, 2, 3, 4]));
    await cluster.servers[0].kill();
    // more writes while one of three is down (a quorum of 2 remains)
    await until('writes accepted with one server down', async () => {
      try {
        await a.request(() => a.users.insert({ id: 'after', name: 'After', createdAt: 99 }));
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    acked.push('after');
    const others = cluster.servers.slice(1).map((s) => s.url).join(',');
    // With one of three nats-servers 2.9.10 down, a third or more of consumer creations go unanswered (5 s each) for as
    // long as it is down (docs/CLUSTER.md, "Known gaps"; scripts/probe-nats-failover.ts): a clean-clone run once saw
    // one bucket fail every try of the default 60 s budget. What this test checks is the data, not that budget.
    const b = await startNode(others, { replicas: 3, startupMs: 150_000 });
    expect(b.users.list().map((u) => u.id).sort()).toEqual([...acked].sort());
    // the object store's stream may still be electing a leader among the survivors: a read then answers unavailable
    let blob: Uint8Array | null = null;
    await until('the blob readable through the others', async () => {
      blob = await b.blobs.get('models/r1/1.head.f32').catch((e: { code?: string }) => {
        if (e.code !== 'unavailable') throw e;
        return null;
      });
      return blob !== null;
    }, 30_000);
    expect(blob).toEqual(new Uint8Array([1, 2, 3, 4]));
  }, 300_000); // the survivors elect new stream leaders; consumer creations time out (5 s) while a server is down
});
