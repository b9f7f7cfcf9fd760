import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file';
import { BlobNotFoundError, blobKeySegments, BlobStore } from '../ports/blob.store';

/**
 * BlobStore on files under DATA_DIR: key `samples/ana/s1.png` is the file DATA_DIR/samples/ana/s1.png, so data
 * directories written before the port existed keep working. put() is writeFileAtomic (temp file in the same folder,
 * fsync, rename over the final name, fsync the folder; docs/RELIABILITY.md), so an interrupted put leaves at worst a
 * `.<name>.<random>.tmp` file, which list() reports and the owners' start-up sweeps remove.
 */
export class DataDirBlobStore implements BlobStore {
  constructor(private readonly dataDir: string) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path(key), bytes);
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') throw new BlobNotFoundError(key);
      throw e;
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { recursive: true, force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (segments: string[]): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.dataDir, ...segments), { withFileTypes: true });
      } catch {
        return; // nothing there (or not a folder)
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk([...segments, e.name]);
        else if (e.isFile()) keys.push([...segments, e.name].join('/'));
      }
    };
    await walk(blobKeySegments(prefix));
    return keys;
  }

  private path(key: string): string {
    return join(this.dataDir, ...blobKeySegments(key));
  }
}
