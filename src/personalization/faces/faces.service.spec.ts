import { describe, expect, it } from 'vitest';
import { CodedError } from '../../contracts/errors';
import { EmbeddedFace, FaceEmbeddings } from '../../inference/embedding/face-embeddings';
import type { FaceRecord } from '../../storage/ports/face-gallery.repository';
import type { UserRecord, UserRepository } from '../../storage/ports/user.repository';
import type { PhotoFace, PhotoFaces } from '../samples/photo-faces';
import type { FaceStore, NewFace } from './face.store';
import { FacesService } from './faces.service';

/** Embeddings without a model: each face's first aligned byte becomes its embedding's first value. */
class FakeEmbeddings extends FaceEmbeddings {
  readonly modelSha = 'sha-now';
  views: number[] = [];
  async embedViews(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]> {
    this.views.push(...faces.map((v) => v.length));
    return faces.map((v) => new Float32Array(128).fill(0).map((_, i) => (i === 0 ? v[0][0] : 0)));
  }
}

function setup(photo: (bytes: Buffer) => PhotoFace) {
  const users = new Map<string, UserRecord>([['ana', { id: 'ana', name: 'Ana', activeVersion: null, createdAt: 1 }]]);
  const stored: FaceRecord[] = [];
  const store = {
    async add(f: NewFace): Promise<FaceRecord> {
      const r: FaceRecord = { id: `f${stored.length + 1}`, userId: f.userId, embedding: f.embedding, modelSha: f.modelSha, sampleId: f.sampleId ?? null, source: f.source, file: 'k', createdAt: 5 };
      stored.push(r);
      return r;
    },
    list: (userId: string) => stored.filter((f) => f.userId === userId),
    async remove(userId: string, id: string) {
      const i = stored.findIndex((f) => f.id === id && f.userId === userId);
      if (i < 0) return false;
      stored.splice(i, 1);
      return true;
    },
  } as unknown as FaceStore;
  const photos = { face: async (bytes: Buffer) => photo(bytes) } as unknown as PhotoFaces;
  const embeddings = new FakeEmbeddings();
  const service = new FacesService({ get: (id: string) => users.get(id) } as unknown as UserRepository, photos, embeddings, store);
  return { service, stored, embeddings };
}

/** A 64x64 BGR image with a face-like landmark layout (eyes, nose, mouth corners). */
const detected = (): PhotoFace['detected'] => ({
  image: { data: new Uint8Array(64 * 64 * 3).fill(200), width: 64, height: 64 },
  landmarks: [22, 26, 42, 26, 32, 36, 24, 46, 40, 46],
});
const onePhoto = (): PhotoFace => ({ crop48: new Uint8Array(48 * 48), box: { x: 10, y: 10, w: 44, h: 44 }, detected: detected() });

describe('FacesService', () => {
  it('enrols a photo: every view aligned and embedded, stored with the model sha, source enrol, no sample', async () => {
    const { service, stored, embeddings } = setup(onePhoto);
    const view = await service.enrolPhoto('ana', Buffer.from('jpeg'));
    expect(embeddings.views).toEqual([3]); // VIEW_SCALES: 1, 0.93, 1.07
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ userId: 'ana', modelSha: 'sha-now', source: 'enrol', sampleId: null });
    expect(stored[0].embedding[0]).toBe(200); // the aligned crop's pixels (inside the image) reached the embedder
    expect(view).toEqual({ id: 'f1', userId: 'ana', source: 'enrol', sampleId: null, current: true, createdAt: 5 });
  });

  it('an unknown user is not_found before the photo is even decoded; a photo error stores nothing', async () => {
    let decoded = 0;
    const { service, stored } = setup(() => {
      decoded++;
      throw new CodedError('no_face', 'no face found in the image');
    });
    await expect(service.enrolPhoto('nobody', Buffer.from('x'))).rejects.toMatchObject({ code: 'not_found' });
    expect(decoded).toBe(0);
    await expect(service.enrolPhoto('ana', Buffer.from('x'))).rejects.toMatchObject({ code: 'no_face' });
    expect(stored).toEqual([]);
  });

  it('embed then store: a sample enrols its face with source sample and the sample id', async () => {
    const { service, stored } = setup(onePhoto);
    const embedded: EmbeddedFace = await service.embed(detected());
    expect(embedded.aligned).toHaveLength(150 * 150 * 3);
    expect(stored).toEqual([]); // embedding stores nothing
    await service.store('ana', embedded, 'sample', 's1');
    expect(stored[0]).toMatchObject({ source: 'sample', sampleId: 's1' });
  });

  it('lists faces, marks other models as not current, removes one; unknown face or user is not_found', async () => {
    const { service, stored } = setup(onePhoto);
    await service.enrolPhoto('ana', Buffer.from('a'));
    await service.enrolPhoto('ana', Buffer.from('b'));
    stored[1].modelSha = 'sha-old';
    expect(service.list('ana').map((f) => f.current)).toEqual([true, false]);
    expect(() => service.list('nobody')).toThrow(/no user/);
    await service.remove('ana', 'f1');
    expect(service.list('ana').map((f) => f.id)).toEqual(['f2']);
    await expect(service.remove('ana', 'f1')).rejects.toMatchObject({ code: 'not_found' });
    await expect(service.remove('nobody', 'f2')).rejects.toMatchObject({ code: 'not_found' });
  });
});
