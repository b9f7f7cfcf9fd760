import { createHash } from 'node:crypto';
import { SAFE_PATH_SEGMENT as SAFE_ID } from '../../storage/atomic-file';
import { BlobStore } from '../../storage/ports/blob.store';

export class ModelFileError extends Error {}

/**
 * Weight files, blob key models/<userId>/<version>.head.f32 (DataDirBlobStore: that path under DATA_DIR), written
 * through BlobStore.put, which is atomic and durable (on files: temp file in the same folder, fsync, rename over the
 * final name, fsync the folder). A crash leaves either no file or a whole one (plus, at worst, a `.tmp` that sweep()
 * removes). The SQLite row that makes a version visible is written only after this returns.
 */
export class ModelFileStore {
  constructor(private readonly blobs: BlobStore) {}

  /** Path relative to DATA_DIR (the blob key), as stored in the models table. */
  relPath(userId: string, version: number): string {
    if (!SAFE_ID.test(userId)) throw new ModelFileError(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    if (!Number.isInteger(version) || version < 1) throw new ModelFileError(`bad version ${version}`);
    return `models/${userId}/${version}.head.f32`;
  }

  async write(userId: string, version: number, bytes: Uint8Array): Promise<{ file: string; sha256: string }> {
    const file = this.relPath(userId, version);
    await this.blobs.put(file, bytes);
    return { file, sha256: sha256(bytes) };
  }

  /** The file's bytes, checked against the size and digest recorded with its row. */
  async read(file: string, expectedSha256: string, expectedBytes?: number): Promise<Uint8Array> {
    const bytes = await this.blobs.get(file);
    if (expectedBytes !== undefined && bytes.byteLength !== expectedBytes) {
      throw new ModelFileError(`${file}: ${bytes.byteLength} bytes, expected ${expectedBytes}`);
    }
    if (sha256(bytes) !== expectedSha256) throw new ModelFileError(`${file}: sha256 does not match its record`);
    return bytes;
  }

  /** Start-up sweep: remove temp files and weight files no row refers to (a crash between rename and commit). */
  async sweep(known: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const key of (await this.blobs.list('models')).sort()) {
      const parts = key.split('/');
      if (parts.length !== 3) continue; // only models/<userId>/<name>
      const n = parts[2];
      if (n.endsWith('.tmp') || (n.endsWith('.head.f32') && !known.has(key))) {
        await this.blobs.remove(key);
        removed.push(key);
      }
    }
    return removed;
  }

  async removeUser(userId: string): Promise<void> {
    if (!SAFE_ID.test(userId)) throw new ModelFileError(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    await this.blobs.remove(`models/${userId}`);
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
