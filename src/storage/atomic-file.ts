import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** An id that may name a file or folder under DATA_DIR (user ids, sample ids): no separators, no dots. */
export const SAFE_PATH_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Writes `bytes` to `path` so that a crash leaves either no file or the whole one: a temp file in the same folder
 * (`.<name>.<random>.tmp`, which start-up sweeps remove), fsync, rename over the final name, fsync the folder.
 * Callers write the SQLite row that makes the file visible only after this resolves.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** fsync a folder, so a rename inside it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
