import { describe, expect, it } from 'vitest';
import { RxEventBus } from '../../src/events/rx-event-bus';
import { faceEmbeddingSha } from '../../src/inference/embedding/face-embeddings';
import { ReplicatedChanges, ReplicatedRowChange } from '../../src/contracts/ports/replicated-changes';
import { GalleryFaceRecognizer } from '../../src/personalization/identity/face-recognizer';
import { FaceGallery, FaceRecord } from '../../src/storage/ports/face-gallery.repository';
import { MODELS } from '../support/paths';

/** An in-memory FaceGallery (the port's contract, no SQLite). */
class MemoryGallery extends FaceGallery {
  rows: FaceRecord[] = [];
  insert(f: FaceRecord) {
    this.rows.push(f);
  }
  get(id: string) {
    return this.rows.find((r) => r.id === id);
  }
  listByUser(userId: string) {
    return this.rows.filter((r) => r.userId === userId);
  }
  listByModel(modelSha: string) {
    return this.rows.filter((r) => r.modelSha === modelSha);
  }
  countByUser(userId: string) {
    return this.listByUser(userId).length;
  }
  allFiles() {
    return new Set(this.rows.map((r) => r.file));
  }
  delete(id: string) {
    const n = this.rows.length;
    this.rows = this.rows.filter((r) => r.id !== id);
    return this.rows.length < n;
  }
}

const unit = (i: number) => {
  const v = new Float32Array(128);
  v[i] = 1;
  return v;
};
let n = 0;
const face = (userId: string, embedding: Float32Array, modelSha: string): FaceRecord => ({
  id: `f${++n}`,
  userId,
  embedding,
  modelSha,
  sampleId: null,
  source: 'enrol',
  file: `faces/${userId}/f${n}.png`,
  createdAt: n,
});

describe('GalleryFaceRecognizer (FACE_RECOGNIZER)', () => {
  const sha = faceEmbeddingSha(MODELS);

  it("loads the current model's faces, follows gallery.changed and user.deleted, and bumps its version on each change", () => {
    const gallery = new MemoryGallery();
    gallery.insert(face('ann', unit(0), sha));
    gallery.insert(face('old', unit(1), 'another-model')); // another model's embedding: never compared
    const bus = new RxEventBus();
    const r = new GalleryFaceRecognizer(gallery, { modelsDir: MODELS }, bus);
    r.onApplicationBootstrap();
    // `changes` announces each new version once the gallery is reloaded (the pipeline re-matches open tracks on it)
    const announced: { version: number; size: number }[] = [];
    r.changes.subscribe((version) => announced.push({ version, size: r.size }));
    expect(r.size).toBe(1);
    expect(r.match([unit(0)])).toMatchObject({ userId: 'ann', distance: 0 });
    expect(r.match([unit(1)]).userId).toBeNull();

    const v = r.version;
    gallery.insert(face('bob', unit(2), sha));
    bus.publish('gallery.changed', { userId: 'bob' });
    expect(r.version).toBeGreaterThan(v);
    expect(r.size).toBe(2);
    expect(r.match([unit(2), unit(2)])).toMatchObject({ userId: 'bob', distance: 0 });

    bus.publish('user.deleted', { userId: 'ann' });
    expect(r.size).toBe(1);
    expect(r.match([unit(0)]).userId).toBeNull();

    gallery.rows = gallery.rows.filter((f) => f.userId !== 'bob');
    bus.publish('gallery.changed', { userId: 'bob' });
    expect(r.size).toBe(0);
    expect(r.match([unit(2)])).toEqual({ userId: null, distance: null, margin: Infinity });
    expect(announced).toEqual([
      { version: v + 1, size: 2 },
      { version: v + 2, size: 1 },
      { version: v + 3, size: 0 },
    ]);
    r.onModuleDestroy();
  });

  it("clustered: follows other nodes' face rows as they arrive, without waiting for their gallery.changed event", () => {
    const gallery = new MemoryGallery();
    const listeners = new Set<(c: ReplicatedRowChange) => void>();
    const replicated: ReplicatedChanges = { on: (l) => (listeners.add(l), () => listeners.delete(l)) };
    const arrive = (c: ReplicatedRowChange) => listeners.forEach((l) => l(c));
    const r = new GalleryFaceRecognizer(gallery, { modelsDir: MODELS }, new RxEventBus(), replicated);
    r.onApplicationBootstrap();
    expect(r.size).toBe(0);
    const f = face('cy', unit(3), sha);
    gallery.insert(f); // the replicator applied another node's row
    arrive({ table: 'faces', key: [f.id], exists: true });
    expect(r.match([unit(3)])).toMatchObject({ userId: 'cy', distance: 0 });
    gallery.delete(f.id);
    arrive({ table: 'faces', key: [f.id], exists: false });
    expect(r.size).toBe(0);
    arrive({ table: 'users', key: ['cy'], exists: false }); // other tables are not its business
    r.onModuleDestroy();
    expect(listeners.size).toBe(0);
  });
});
