import { BlobNotFoundError, blobKeySegments, BlobStore } from '../ports/blob.store';

/**
 * BlobStore in a Map: for unit tests (no I/O) and as the reference behaviour of the port. put() stores a copy, so a
 * caller that reuses its buffer cannot change a stored blob; get() returns a copy for the same reason.
 */
export class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Uint8Array>();

  async put(key: string, bytes: Uint8Array): Promise<void> {
    blobKeySegments(key);
    this.blobs.set(key, new Uint8Array(bytes));
  }

  async get(key: string): Promise<Uint8Array> {
    blobKeySegments(key);
    const b = this.blobs.get(key);
    if (!b) throw new BlobNotFoundError(key);
    return new Uint8Array(b);
  }

  async remove(key: string): Promise<void> {
    blobKeySegments(key);
    for (const k of [...this.blobs.keys()]) if (k === key || k.startsWith(`${key}/`)) this.blobs.delete(k);
  }

  async list(prefix: string): Promise<string[]> {
    blobKeySegments(prefix);
    return [...this.blobs.keys()].filter((k) => k.startsWith(`${prefix}/`));
  }
}
