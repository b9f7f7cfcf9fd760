import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SAFE_PATH_SEGMENT as SAFE_ID, writeFileAtomic } from '../../storage/atomic-file';

export class ModelFileError extends Error {}

/**
 * Weight files under DATA_DIR/models/<userId>/<version>.head.f32, written atomically: a temp file in the same folder,
 * fsync, rename over the final name, fsync the folder. A crash leaves either no file or a whole one (plus, at worst,
 * a `.tmp` that sweep() removes). The SQLite row that makes a version visible is written only after this returns.
 */
export class ModelFileStore {
  constructor(private readonly dataDir: string) {}

  /** Path relative to DATA_DIR, as stored in the models table. */
  relPath(userId: string, version: number): string {
    if (!SAFE_ID.test(userId)) throw new ModelFileError(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    if (!Number.isInteger(version) || version < 1) throw new ModelFileError(`bad version ${version}`);
    return join('models', userId, `${version}.head.f32`);
  }

  async write(userId: string, version: number, bytes: Uint8Array): Promise<{ file: string; sha256: string }> {
    const file = this.relPath(userId, version);
    const final = join(this.dataDir, file);
    await writeFileAtomic(final, bytes);
    return { file, sha256: sha256(bytes) };
  }

  /** The file's bytes, checked against the size and digest recorded with its row. */
  async read(file: string, expectedSha256: string, expectedBytes?: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(await readFile(join(this.dataDir, file)));
    if (expectedBytes !== undefined && bytes.byteLength !== expectedBytes) {
      throw new ModelFileError(`${file}: ${bytes.byteLength} bytes, expected ${expectedBytes}`);
    }
    if (sha256(bytes) !== expectedSha256) throw new ModelFileError(`${file}: sha256 does not match its record`);
    return bytes;
  }

  /** Start-up sweep: remove temp files and weight files no row refers to (a crash between rename and commit). */
  async sweep(known: Set<string>): Promise<string[]> {
    const root = join(this.dataDir, 'models');
    const removed: string[] = [];
    let users: string[];
    try {
      users = await readdir(root);
    } catch {
      return removed;
    }
    for (const u of users) {
      let names: string[];
      try {
        names = await readdir(join(root, u));
      } catch {
        continue;
      }
      for (const n of names) {
        const rel = relative(this.dataDir, join(root, u, n));
        if (n.endsWith('.tmp') || (n.endsWith('.head.f32') && !known.has(rel))) {
          await rm(join(root, u, n), { force: true });
          removed.push(rel);
        }
      }
    }
    return removed;
  }

  async removeUser(userId: string): Promise<void> {
    if (!SAFE_ID.test(userId)) throw new ModelFileError(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    await rm(join(this.dataDir, 'models', userId), { recursive: true, force: true });
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
