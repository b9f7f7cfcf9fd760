import { Test } from '@nestjs/testing';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/storage/database';
import { DataDirBlobStore } from '../../src/storage/files/data-dir.blob-store';
import { BlobStore } from '../../src/storage/ports/blob.store';
import { SampleRepository } from '../../src/storage/ports/sample.repository';
import { UserRepository } from '../../src/storage/ports/user.repository';
import { SqliteSampleRepository } from '../../src/storage/sqlite/sample.repository';
import { SqliteUserRepository } from '../../src/storage/sqlite/user.repository';
import { SampleStore } from '../../src/personalization/samples/sample.store';

const crop = (v: number) => new Uint8Array(48 * 48).map((_, i) => (i + v) % 256);

describe('SampleStore (through the DI container, real SQLite and files)', () => {
  let dir: string;
  let db: SqliteDatabase;
  let store: SampleStore;
  let users: UserRepository;
  let samples: SampleRepository;

  const build = async () => {
    const mod = await Test.createTestingModule({
      providers: [
        { provide: BlobStore, useValue: new DataDirBlobStore(dir) },
        { provide: SqliteDatabase, useValue: db },
        { provide: UserRepository, useClass: SqliteUserRepository },
        { provide: SampleRepository, useClass: SqliteSampleRepository },
        SampleStore,
      ],
    }).compile();
    await mod.init(); // runs the start-up sweep
    return mod;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iex-samples-'));
    db = new SqliteDatabase(dir);
    const mod = await build();
    store = mod.get(SampleStore);
    users = mod.get(UserRepository);
    samples = mod.get(SampleRepository);
    users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the crop as a 48x48 PNG, then the row; load() returns the same pixels', async () => {
    const rec = await store.add('ana', 'happy', crop(3), 'upload');
    expect(existsSync(join(dir, rec.file))).toBe(true);
    expect(samples.countsByUser('ana')).toEqual({ happy: 1 });
    const loaded = await store.load('ana');
    expect(loaded).toHaveLength(1);
    expect(Buffer.from(loaded[0].face).equals(Buffer.from(crop(3)))).toBe(true);
    expect(readdirSync(join(dir, 'samples', 'ana')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a sample whose row cannot be written (user gone) leaves no file', async () => {
    await expect(store.add('ghost', 'sad', crop(1), 'calibration')).rejects.toThrow(/FOREIGN KEY/);
    expect(readdirSync(join(dir, 'samples', 'ghost'))).toEqual([]);
  });

  it('start-up sweep removes temp files, files without a row and folders of deleted users, keeps acknowledged samples', async () => {
    const kept = await store.add('ana', 'fear', crop(5), 'calibration');
    // what a crash leaves: a temp file mid-write, a renamed file whose row never committed, a deleted user's folder
    writeFileSync(join(dir, 'samples', 'ana', '.sX.png.tmp'), 'half');
    writeFileSync(join(dir, 'samples', 'ana', 'sorphan.png'), 'no row');
    mkdirSync(join(dir, 'samples', 'bob'));
    writeFileSync(join(dir, 'samples', 'bob', 'sbob.png'), 'x');
    await build(); // a restart
    expect(readdirSync(join(dir, 'samples'))).toEqual(['ana']);
    expect(readdirSync(join(dir, 'samples', 'ana'))).toEqual([kept.file.split('/').pop()]);
    expect((await store.load('ana')).map((s) => s.record.id)).toEqual([kept.id]);
  });
});
