import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../memory/memory.blob-store';
import { ReplicationUnavailableError } from './pending-writes';
import { OBJECT_READ_TRIES, ReplicaObjects, ReplicatedBlobStore } from './replicated.blob-store';

const timeout = () => Object.assign(new Error('timeout'), { name: 'TimeoutError' });

/** An object store whose next `failures` reads time out (a consumer placed on a dead NATS server), then answer. */
function flakyObjects(stored: Record<string, Uint8Array>, failures: number): ReplicaObjects & { reads: number } {
  const o = {
    reads: 0,
    put: async (name: string, bytes: Uint8Array) => void (stored[name] = bytes),
    delete: async (name: string) => void delete stored[name],
    get: async (name: string) => {
      o.reads++;
      if (failures-- > 0) throw timeout();
      return stored[name] ?? null;
    },
    list: async () => {
      o.reads++;
      if (failures-- > 0) throw timeout();
      return Object.keys(stored);
    },
  };
  return o;
}

describe('ReplicatedBlobStore reads while a NATS server is down', () => {
  it(`tries an object-store read again: a fetch that timed out ${OBJECT_READ_TRIES - 1} times still answers, and is cached`, async () => {
    const objects = flakyObjects({ 'models/u1/3.head.f32': new Uint8Array([1, 2, 3]) }, OBJECT_READ_TRIES - 1);
    const local = new MemoryBlobStore();
    const store = new ReplicatedBlobStore(local, objects);
    expect([...(await store.get('models/u1/3.head.f32'))]).toEqual([1, 2, 3]);
    expect(objects.reads).toBe(OBJECT_READ_TRIES);
    expect([...(await local.get('models/u1/3.head.f32'))]).toEqual([1, 2, 3]);
  });

  it(`gives up after ${OBJECT_READ_TRIES} tries with unavailable, naming the blob`, async () => {
    const objects = flakyObjects({ 'models/u1/3.head.f32': new Uint8Array([1]) }, OBJECT_READ_TRIES);
    const err = await new ReplicatedBlobStore(new MemoryBlobStore(), objects).get('models/u1/3.head.f32').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicationUnavailableError);
    expect((err as Error).message).toContain('(blob models/u1/3.head.f32: timeout)');
    expect(objects.reads).toBe(OBJECT_READ_TRIES);
  });

  it('remove() lists again after a timeout, then deletes the blob and what is under it', async () => {
    const stored = { 'samples/u1/a.png': new Uint8Array([1]), 'samples/u1/a.png/x': new Uint8Array([2]), 'samples/u2/b.png': new Uint8Array([3]) };
    const store = new ReplicatedBlobStore(new MemoryBlobStore(), flakyObjects(stored, 1));
    await store.remove('samples/u1/a.png');
    expect(Object.keys(stored)).toEqual(['samples/u2/b.png']);
  });
});
