import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { EventBus } from '../../events/event-bus';
import { ALIGNED_SIZE } from '../../inference/embedding/face-align';
import { SAFE_PATH_SEGMENT as SAFE_ID } from '../../storage/atomic-file';
import { BlobStore } from '../../storage/ports/blob.store';
import { FACE_EMBEDDING_DIM, FaceGallery, FaceRecord, FaceSource } from '../../storage/ports/face-gallery.repository';
import { UserRepository } from '../../storage/ports/user.repository';

export interface NewFace {
  userId: string;
  /** The aligned 150x150 RGB crop (packed) the embedding was made from. */
  aligned: Uint8Array;
  embedding: Float32Array;
  modelSha: string;
  source: FaceSource;
  sampleId?: string | null;
}

/**
 * A user's enrolled faces: the aligned colour crop as blob faces/<userId>/<id>.png (lossless, so the embedding can be
 * recomputed exactly when the model changes) + a FaceGallery row with the embedding. Write order: BlobStore.put
 * (atomic and durable), THEN the row: the row is the commit point, so a crash leaves a whole face or, at worst, a crop
 * without a row (sweep() at start-up removes it) — never an embedding whose crop is missing or half-written, and never a
 * half-written embedding (one INSERT; the table refuses a blob that is not 128 float32). `gallery.changed` {userId} is
 * published after every commit (add, remove, removeUser). Depends on ports only.
 */
@Injectable()
export class FaceStore implements OnModuleInit {
  private readonly logger = new Logger('FaceStore');

  constructor(
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(FaceGallery) private readonly gallery: FaceGallery,
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  async onModuleInit(): Promise<void> {
    const removed = await this.sweep();
    if (removed.length) this.logger.warn(`removed ${removed.length} unfinished face crop(s)`);
  }

  /** Stores one face; resolves when crop and row are durable. Throws (storing nothing) when the user does not exist. */
  async add(face: NewFace): Promise<FaceRecord> {
    const { userId } = face;
    if (!SAFE_ID.test(userId)) throw new Error(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    if (face.aligned.length !== ALIGNED_SIZE * ALIGNED_SIZE * 3) throw new Error(`an aligned face is ${ALIGNED_SIZE}x${ALIGNED_SIZE} RGB, got ${face.aligned.length} bytes`);
    if (face.embedding.length !== FACE_EMBEDDING_DIM) throw new Error(`an embedding is ${FACE_EMBEDDING_DIM} values, got ${face.embedding.length}`);
    const id = `f${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
    const file = `faces/${userId}/${id}.png`;
    const png = await sharp(Buffer.from(face.aligned), { raw: { width: ALIGNED_SIZE, height: ALIGNED_SIZE, channels: 3 } }).png().toBuffer();
    await this.blobs.put(file, png);
    const record: FaceRecord = {
      id,
      userId,
      embedding: face.embedding,
      modelSha: face.modelSha,
      sampleId: face.sampleId ?? null,
      source: face.source,
      file,
      createdAt: Date.now(),
    };
    try {
      this.gallery.insert(record); // throws if the user was deleted meanwhile (foreign key): the crop goes below
    } catch (e) {
      await this.blobs.remove(file);
      throw e;
    }
    this.bus.publish('gallery.changed', { userId });
    return record;
  }

  list(userId: string): FaceRecord[] {
    return this.gallery.listByUser(userId);
  }

  /** The stored aligned crop as PNG bytes. */
  crop(face: FaceRecord): Promise<Uint8Array> {
    return this.blobs.get(face.file);
  }

  /** Row first (the commit point), then the crop; false when the user has no such face. */
  async remove(userId: string, faceId: string): Promise<boolean> {
    const face = this.gallery.get(faceId);
    if (!face || face.userId !== userId) return false;
    if (!this.gallery.delete(faceId)) return false;
    this.bus.publish('gallery.changed', { userId });
    await this.blobs.remove(face.file);
    return true;
  }

  /** After the user's row is gone (its faces rows cascade): their crops. A crash in between: sweep() finishes it. */
  async removeUser(userId: string): Promise<void> {
    if (!SAFE_ID.test(userId)) return;
    this.bus.publish('gallery.changed', { userId });
    await this.blobs.remove(`faces/${userId}`);
  }

  /**
   * Start-up: remove temp files, crops no row refers to (a crash between the put and the row) and folders of users
   * that no longer exist (a crash during a delete). Returns the removed keys.
   */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    const known = this.gallery.allFiles();
    const gone = new Set<string>();
    for (const key of (await this.blobs.list('faces')).sort()) {
      const userId = key.split('/')[1];
      if (gone.has(userId)) continue;
      if (!this.users.get(userId)) {
        await this.blobs.remove(`faces/${userId}`);
        removed.push(`faces/${userId}`);
        gone.add(userId);
      } else if (key.endsWith('.tmp') || !known.has(key)) {
        await this.blobs.remove(key);
        removed.push(key);
      }
    }
    return removed;
  }
}
