import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirBlobStore } from '../../src/storage/files/data-dir.blob-store';
import { MemoryBlobStore } from '../../src/storage/memory/memory.blob-store';
import { BadBlobKeyError, BlobNotFoundError, BlobStore } from '../../src/storage/ports/blob.store';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iex-blobs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// The port's contract, run against the files implementation and the in-memory reference.
const stores: [string, () => BlobStore][] = [
  ['DataDirBlobStore', () => new DataDirBlobStore(dir)],
  ['MemoryBlobStore', () => new MemoryBlobStore()],
];

describe.each(stores)('BlobStore contract: %s', (_name, make) => {
  it('put/get round-trips bytes, replaces on a second put, and get of a missing key rejects with BlobNotFoundError', async () => {
    const s = make();
    await s.put('models/ana/1.head.f32', new Uint8Array([1, 2, 3]));
    expect([...(await s.get('models/ana/1.head.f32'))]).toEqual([1, 2, 3]);
    await s.put('models/ana/1.head.f32', new Uint8Array([9]));
    expect([...(await s.get('models/ana/1.head.f32'))]).toEqual([9]);
    await expect(s.get('models/ana/2.head.f32')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(s.get('models/ana')).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('list(prefix) returns every key under the prefix by whole segments; remove(key) removes a blob or a whole sub-tree', async () => {
    const s = make();
    for (const k of ['samples/ana/a.png', 'samples/ana/b.png', 'samples/an/c.png', 'models/ana/1.head.f32']) await s.put(k, new Uint8Array([1]));
    expect((await s.list('samples')).sort()).toEqual(['samples/an/c.png', 'samples/ana/a.png', 'samples/ana/b.png']);
    expect((await s.list('samples/an')).sort()).toEqual(['samples/an/c.png']);
    expect(await s.list('nothing')).toEqual([]);
    await s.remove('samples/ana/a.png');
    await s.remove('samples/an');
    await s.remove('samples/nobody');
    expect((await s.list('samples')).sort()).toEqual(['samples/ana/b.png']);
    expect(await s.list('models')).toEqual(['models/ana/1.head.f32']);
  });

  it('refuses keys that could leave the store', async () => {
    const s = make();
    for (const k of ['../x', 'a/../../x', '', 'a//b', '/abs', 'a\\b', 'a/./b']) {
      await expect(s.put(k, new Uint8Array([1]))).rejects.toBeInstanceOf(BadBlobKeyError);
      await expect(s.get(k)).rejects.toBeInstanceOf(BadBlobKeyError);
      await expect(s.remove(k)).rejects.toBeInstanceOf(BadBlobKeyError);
    }
  });
});

describe('DataDirBlobStore on files', () => {
  it('a key is its path under DATA_DIR (data directories from before the port keep working), written without leftovers', async () => {
    mkdirSync(join(dir, 'models', 'ana'), { recursive: true });
    writeFileSync(join(dir, 'models', 'ana', '1.head.f32'), new Uint8Array([7, 7]));
    const s = new DataDirBlobStore(dir);
    expect([...(await s.get('models/ana/1.head.f32'))]).toEqual([7, 7]);
    await s.put('samples/ana/s1.png', new Uint8Array([4, 5]));
    expect([...readFileSync(join(dir, 'samples', 'ana', 's1.png'))]).toEqual([4, 5]);
    expect(readdirSync(join(dir, 'samples', 'ana'))).toEqual(['s1.png']); // the temp file was renamed, none left
  });

  it('lists the temp file an interrupted put leaves, so that owners can sweep it', async () => {
    const s = new DataDirBlobStore(dir);
    await s.put('models/ana/1.head.f32', new Uint8Array([1]));
    writeFileSync(join(dir, 'models', 'ana', '.2.head.f32.dead.tmp'), 'half');
    expect((await s.list('models')).sort()).toEqual(['models/ana/.2.head.f32.dead.tmp', 'models/ana/1.head.f32']);
    await s.remove('models/ana/.2.head.f32.dead.tmp');
    expect(existsSync(join(dir, 'models', 'ana', '.2.head.f32.dead.tmp'))).toBe(false);
  });
});
