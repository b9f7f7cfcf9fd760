/**
 * The face gallery on real SQLite and files: SqliteFaceGallery (embedding bytes round-trip, the 512-byte CHECK, cascades)
 * and FaceStore's write order under a real kill -9 between the crop and the row (no row, so no half-written embedding;
 * the orphan crop is swept at the next start).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RxEventBus } from '../../src/events/rx-event-bus';
import { FaceStore } from '../../src/personalization/faces/face.store';
import { SqliteDatabase } from '../../src/storage/database';
import { DataDirBlobStore } from '../../src/storage/files/data-dir.blob-store';
import { FaceRecord } from '../../src/storage/ports/face-gallery.repository';
import { SqliteFaceGallery } from '../../src/storage/sqlite/face-gallery.repository';
import { SqliteSampleRepository } from '../../src/storage/sqlite/sample.repository';
import { SqliteUserRepository } from '../../src/storage/sqlite/user.repository';
import { ROOT } from '../support/paths';

const vector = (seed: number) => {
  const v = new Float32Array(128).map((_, i) => Math.sin(seed * 31 + i) / 11.3);
  return v;
};
const aligned = (v: number) => new Uint8Array(150 * 150 * 3).map((_, i) => (i * 7 + v) % 256);

describe('face gallery storage (real SQLite and files)', () => {
  let dir: string;
  let db: SqliteDatabase;
  let users: SqliteUserRepository;
  let gallery: SqliteFaceGallery;
  const face = (id: string, userId: string, extra: Partial<FaceRecord> = {}): FaceRecord => ({
    id,
    userId,
    embedding: vector(id.length + userId.length),
    modelSha: 'sha-a',
    sampleId: null,
    source: 'enrol',
    file: `faces/${userId}/${id}.png`,
    createdAt: 1000,
    ...extra,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iex-faces-'));
    db = new SqliteDatabase(dir);
    users = new SqliteUserRepository(db);
    gallery = new SqliteFaceGallery(db);
    users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
    users.insert({ id: 'bo', name: 'Bo', createdAt: 2 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the embedding bit for bit, lists by user and by model, counts', () => {
    const a = face('f1', 'ana');
    gallery.insert(a);
    gallery.insert(face('f2', 'ana', { modelSha: 'sha-b', createdAt: 2000 }));
    gallery.insert(face('f3', 'bo'));
    const got = gallery.get('f1')!;
    expect(got.embedding).toBeInstanceOf(Float32Array);
    expect([...got.embedding]).toEqual([...a.embedding]);
    expect(gallery.listByUser('ana').map((f) => f.id)).toEqual(['f1', 'f2']);
    expect(gallery.listByModel('sha-a').map((f) => f.id)).toEqual(['f1', 'f3']);
    expect(gallery.countByUser('ana')).toBe(2);
    expect(gallery.countByUser('ana', 'sha-b')).toBe(1);
    expect(gallery.allFiles()).toEqual(new Set(['faces/ana/f1.png', 'faces/ana/f2.png', 'faces/bo/f3.png']));
    expect(gallery.delete('f1')).toBe(true);
    expect(gallery.delete('f1')).toBe(false);
  });

  it('refuses a partial embedding, an unknown user; cascades with the user; a deleted sample only clears sampleId', () => {
    expect(() => gallery.insert(face('f1', 'ana', { embedding: new Float32Array(127) }))).toThrow(/128/);
    // the table itself refuses a blob that is not 512 bytes, whoever writes it
    expect(() =>
      db.db
        .prepare("INSERT INTO faces (id, user_id, embedding, model_sha, sample_id, source, file, created_at) VALUES ('x', 'ana', ?, 's', NULL, 'enrol', 'k', 1)")
        .run(Buffer.alloc(508)),
    ).toThrow(/CHECK/);
    expect(() => gallery.insert(face('f9', 'nobody'))).toThrow(/FOREIGN KEY/);
    const samples = new SqliteSampleRepository(db);
    samples.insert({ id: 's1', userId: 'ana', label: 'happy', file: 'samples/ana/s1.png', source: 'upload', sha1: 'x', createdAt: 1 });
    gallery.insert(face('f1', 'ana', { sampleId: 's1', source: 'sample' }));
    gallery.insert(face('f2', 'bo'));
    samples.delete('s1');
    expect(gallery.get('f1')!.sampleId).toBeNull();
    users.delete('ana');
    expect(gallery.listByUser('ana')).toEqual([]);
    expect(gallery.get('f2')).toBeDefined();
  });

  it('FaceStore: crop then row, gallery.changed after each commit; remove and removeUser leave no file', async () => {
    const bus = new RxEventBus();
    const changed: string[] = [];
    bus.on('gallery.changed').subscribe(({ payload }) => changed.push(payload.userId));
    const store = new FaceStore(new DataDirBlobStore(dir), gallery, users, bus);
    const f = await store.add({ userId: 'ana', aligned: aligned(1), embedding: vector(1), modelSha: 'sha-a', source: 'enrol' });
    expect(existsSync(join(dir, f.file))).toBe(true);
    expect(changed).toEqual(['ana']);
    await expect(store.add({ userId: 'nobody', aligned: aligned(2), embedding: vector(2), modelSha: 'sha-a', source: 'enrol' })).rejects.toThrow(/FOREIGN KEY/);
    expect(existsSync(join(dir, 'faces', 'nobody')) ? readdirSync(join(dir, 'faces', 'nobody')) : []).toEqual([]);
    expect(await store.remove('bo', f.id)).toBe(false); // not Bo's face
    expect(await store.remove('ana', f.id)).toBe(true);
    expect(existsSync(join(dir, f.file))).toBe(false);
    const g = await store.add({ userId: 'ana', aligned: aligned(3), embedding: vector(3), modelSha: 'sha-a', source: 'enrol' });
    users.delete('ana');
    await store.removeUser('ana');
    expect(existsSync(join(dir, 'faces', 'ana'))).toBe(false);
    expect(gallery.get(g.id)).toBeUndefined();
    expect(changed).toEqual(['ana', 'ana', 'ana', 'ana']);
  });

  it('kill -9 between the crop and the row: no row (no half-written embedding), and the orphan crop is swept at start', async () => {
    // a separate process stores the crop through FaceStore and is SIGKILLed inside the row insert (before it runs)
    const tsxCjs = createRequire(join(ROOT, 'x.js')).resolve('tsx/cjs');
    const src = (p: string) => JSON.stringify(join(ROOT, p));
    const child = String.raw`
      require(${JSON.stringify(tsxCjs)});
      const { SqliteDatabase } = require(${src('src/storage/database.ts')});
      const { SqliteUserRepository } = require(${src('src/storage/sqlite/user.repository.ts')});
      const { SqliteFaceGallery } = require(${src('src/storage/sqlite/face-gallery.repository.ts')});
      const { DataDirBlobStore } = require(${src('src/storage/files/data-dir.blob-store.ts')});
      const { FaceStore } = require(${src('src/personalization/faces/face.store.ts')});
      const { RxEventBus } = require(${src('src/events/rx-event-bus.ts')});
      const db = new SqliteDatabase(${JSON.stringify(dir)});
      const gallery = new SqliteFaceGallery(db);
      gallery.insert = () => { process.stdout.write('crop stored\n'); process.kill(process.pid, 'SIGKILL'); };
      const store = new FaceStore(new DataDirBlobStore(${JSON.stringify(dir)}), gallery, new SqliteUserRepository(db), new RxEventBus());
      store.add({ userId: 'ana', aligned: new Uint8Array(150 * 150 * 3).fill(77), embedding: new Float32Array(128).fill(0.088), modelSha: 's', source: 'enrol' });`;
    db.close();
    const proc = spawn(process.execPath, ['-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += String(d)));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_c, s) => resolve(s)));
    expect(signal).toBe('SIGKILL');
    expect(out).toContain('crop stored');

    db = new SqliteDatabase(dir);
    users = new SqliteUserRepository(db);
    gallery = new SqliteFaceGallery(db);
    expect(gallery.listByUser('ana')).toEqual([]);
    const crops = readdirSync(join(dir, 'faces', 'ana'));
    expect(crops.filter((f) => f.endsWith('.png'))).toHaveLength(1); // the durable crop, without a row
    const store = new FaceStore(new DataDirBlobStore(dir), gallery, users, new RxEventBus());
    await store.onModuleInit();
    expect(readdirSync(join(dir, 'faces', 'ana'))).toEqual([]);
  });

  it('sweep removes temp files and folders of users that no longer exist, keeps committed faces', async () => {
    const blobs = new DataDirBlobStore(dir);
    const store = new FaceStore(blobs, gallery, users, new RxEventBus());
    const kept = await store.add({ userId: 'bo', aligned: aligned(4), embedding: vector(4), modelSha: 'sha-a', source: 'enrol' });
    await blobs.put('faces/bo/.fx.png.123.tmp', new Uint8Array([1]));
    await blobs.put('faces/ghost/f1.png', new Uint8Array([1]));
    expect((await store.sweep()).sort()).toEqual(['faces/bo/.fx.png.123.tmp', 'faces/ghost']);
    expect(await blobs.list('faces')).toEqual([kept.file]);
  });
});
