import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** What a node id may look like (config's NODE_ID rule): a NATS subject token and KV key as is. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const NODE_ID_FILE = 'node-id';

export class NodeIdFileError extends Error {}

/**
 * This node's stable id, kept in DATA_DIR/node-id: read when the file exists, else generated (`n-` + 10 random hex
 * digits) and written atomically (temp file, fsync, link to the final name, fsync the folder), so two processes
 * starting on one DATA_DIR agree on the winner's id and a crash leaves either no file or the whole one.
 * Synchronous: it runs once, before the node connects to the cluster.
 */
export function readOrCreateNodeId(dataDir: string): string {
  const path = join(dataDir, NODE_ID_FILE);
  const existing = readNodeId(path);
  if (existing !== null) return existing;
  mkdirSync(dataDir, { recursive: true });
  const id = `n-${randomBytes(5).toString('hex')}`;
  const tmp = join(dataDir, `.${NODE_ID_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    writeSync(fd, `${id}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // link() refuses an existing name, unlike rename(): the first process to get here wins, the others read its id.
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const dir = openSync(dataDir, constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  const stored = readNodeId(path);
  if (stored === null) throw new NodeIdFileError(`${path} vanished while it was being created`);
  return stored;
}

function readNodeId(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const id = text.trim();
  if (!NODE_ID_PATTERN.test(id)) throw new NodeIdFileError(`${path} holds no valid node id (1-64 letters, digits, _ or -): fix or delete it`);
  return id;
}
