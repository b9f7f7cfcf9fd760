import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../../storage/memory/memory.blob-store';
import { SampleRecord, SampleRepository } from '../../storage/ports/sample.repository';
import { UserRecord, UserRepository } from '../../storage/ports/user.repository';
import { SampleStore } from './sample.store';

// SampleStore sees its storage only through the ports: these in-memory fakes (no SQLite, no files) are enough to run
// it, which is the seam a replicated store plugs into. test/integration/sample-store.spec.ts runs it on SQLite + files.

class MemoryUsers implements UserRepository {
  readonly rows = new Map<string, UserRecord>();
  insert(u: Omit<UserRecord, 'activeVersion'>): void {
    if (this.rows.has(u.id)) throw new Error(`user ${u.id} exists`);
    this.rows.set(u.id, { ...u, activeVersion: null });
  }
  get(id: string): UserRecord | undefined {
    return this.rows.get(id);
  }
  list(): UserRecord[] {
    return [...this.rows.values()];
  }
  rename(id: string, name: string): boolean {
    const u = this.rows.get(id);
    if (u) u.name = name;
    return u !== undefined;
  }
  delete(id: string): boolean {
    return this.rows.delete(id);
  }
}

class MemorySamples implements SampleRepository {
  readonly rows: SampleRecord[] = [];
  constructor(private readonly users: UserRepository) {}
  insert(s: SampleRecord): void {
    if (!this.users.get(s.userId)) throw new Error('FOREIGN KEY constraint failed');
    this.rows.push({ ...s });
  }
  listByUser(userId: string): SampleRecord[] {
    return this.rows.filter((s) => s.userId === userId);
  }
  countsByUser(userId: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.listByUser(userId)) counts[s.label] = (counts[s.label] ?? 0) + 1;
    return counts;
  }
  hasSha1(userId: string, sha1: string): boolean {
    return this.listByUser(userId).some((s) => s.sha1 === sha1);
  }
  delete(id: string): boolean {
    const i = this.rows.findIndex((s) => s.id === id);
    if (i >= 0) this.rows.splice(i, 1);
    return i >= 0;
  }
}

const crop = (v: number) => new Uint8Array(48 * 48).map((_, i) => (i * 7 + v) % 256);

function setup() {
  const blobs = new MemoryBlobStore();
  const users = new MemoryUsers();
  const samples = new MemorySamples(users);
  users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
  return { blobs, users, samples, store: new SampleStore(blobs, samples, users) };
}

describe('SampleStore on in-memory ports', () => {
  it('puts a 48x48 gray PNG under samples/<user>/<id>.png, then the row; load() returns the same pixels', async () => {
    const { blobs, samples, store } = setup();
    const rec = await store.add('ana', 'happy', crop(3), 'upload');
    expect(rec.file).toBe(`samples/ana/${rec.id}.png`);
    expect([...blobs.blobs.keys()]).toEqual([rec.file]);
    const meta = await sharp(blobs.blobs.get(rec.file)!).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 48, height: 48 });
    expect(samples.countsByUser('ana')).toEqual({ happy: 1 });
    const loaded = await store.load('ana');
    expect(loaded.map((s) => s.record.id)).toEqual([rec.id]);
    expect(Buffer.from(loaded[0].face).equals(Buffer.from(crop(3)))).toBe(true);
  });

  it('a sample whose row cannot be written (user gone) leaves no blob', async () => {
    const { blobs, store } = setup();
    await expect(store.add('ghost', 'sad', crop(1), 'calibration')).rejects.toThrow(/FOREIGN KEY/);
    expect(blobs.blobs.size).toBe(0);
  });

  it('refuses unsafe user ids and crops of the wrong size before writing anything', async () => {
    const { blobs, store } = setup();
    await expect(store.add('../ana', 'sad', crop(1), 'upload')).rejects.toThrow(/unsafe user id/);
    await expect(store.add('ana', 'sad', new Uint8Array(10), 'upload')).rejects.toThrow(/48x48/);
    expect(blobs.blobs.size).toBe(0);
  });

  it('load() skips a sample whose blob is missing or not an image', async () => {
    const { blobs, store } = setup();
    const gone = await store.add('ana', 'fear', crop(1), 'upload');
    const bad = await store.add('ana', 'fear', crop(2), 'upload');
    const good = await store.add('ana', 'fear', crop(3), 'upload');
    await blobs.remove(gone.file);
    await blobs.put(bad.file, new Uint8Array([1, 2, 3]));
    expect((await store.load('ana')).map((s) => s.record.id)).toEqual([good.id]);
  });

  it('sweep() removes unfinished and row-less blobs and the blobs of deleted users, keeps acknowledged samples', async () => {
    const { blobs, users, store } = setup();
    users.insert({ id: 'bob', name: 'Bob', createdAt: 2 });
    const kept = await store.add('ana', 'fear', crop(5), 'calibration');
    const bobs = await store.add('bob', 'sad', crop(6), 'calibration');
    await blobs.put('samples/ana/.sX.png.abc.tmp', new Uint8Array([1]));
    await blobs.put('samples/ana/sorphan.png', new Uint8Array([2]));
    users.delete('bob'); // (in SQLite the cascade removes bob's rows too)
    expect((await store.sweep()).sort()).toEqual(['samples/ana/.sX.png.abc.tmp', 'samples/ana/sorphan.png', 'samples/bob']);
    expect([...blobs.blobs.keys()]).toEqual([kept.file]);
    expect(bobs.file.startsWith('samples/bob/')).toBe(true);
  });

  it('removeUser() removes every blob of that user and no one else', async () => {
    const { blobs, users, store } = setup();
    users.insert({ id: 'an', name: 'An', createdAt: 2 });
    await store.add('ana', 'fear', crop(5), 'calibration');
    const an = await store.add('an', 'fear', crop(5), 'calibration');
    await store.removeUser('ana');
    expect([...blobs.blobs.keys()]).toEqual([an.file]);
  });
});
