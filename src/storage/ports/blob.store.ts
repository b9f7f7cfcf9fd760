/**
 * Port (and Nest token) for files the server keeps beside its database: sample crops (samples/<userId>/<id>.png) and
 * head weights (models/<userId>/<version>.head.f32). StorageModule binds it to DataDirBlobStore (files under DATA_DIR,
 * where a key is the path relative to DATA_DIR). Keys are '/'-separated segments; no segment may be empty, '.' or
 * '..', nor contain '\' or NUL.
 *
 * Owners (SampleStore, ModelFileStore) write the blob first and the row that makes it visible after put() resolved,
 * so a crash leaves at worst a blob without a row, which their start-up sweeps remove. A replicated store (several
 * nodes) can implement this port without touching them; it is asynchronous already.
 */
export abstract class BlobStore {
  /**
   * Stores `bytes` under `key`, replacing what was there, atomically and durably: when this resolves the blob survives a
   * crash, and a crash before leaves either nothing (or the old blob) or, at worst, an unfinished entry that list()
   * reports with a name ending in '.tmp'. Never a partial blob under `key`.
   */
  abstract put(key: string, bytes: Uint8Array): Promise<void>;
  /** The blob's bytes; rejects with BlobNotFoundError when there is none. */
  abstract get(key: string): Promise<Uint8Array>;
  /** Removes the blob `key` and every blob under `key/` (whole segments only); nothing there is fine. */
  abstract remove(key: string): Promise<void>;
  /**
   * Every key under `prefix/` (whole segments), in no particular order, including the unfinished entries of
   * interrupted puts (last segment ending in '.tmp'), so that owners can sweep them. [] when there is nothing.
   */
  abstract list(prefix: string): Promise<string[]>;
}

export class BlobNotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(readonly key: string) {
    super(`no blob ${key}`);
  }
}

export class BadBlobKeyError extends Error {}

/** The segments of a valid key (see BlobStore); throws BadBlobKeyError otherwise. */
export function blobKeySegments(key: string): string[] {
  const parts = key.split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0')) {
      throw new BadBlobKeyError(`bad blob key ${JSON.stringify(key)}`);
    }
  }
  return parts;
}
