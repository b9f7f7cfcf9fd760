import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { LabelName } from '../../contracts/labels';
import { INPUT_SIZE } from '../../inference/preprocess';
import { SAFE_PATH_SEGMENT as SAFE_ID } from '../../storage/atomic-file';
import { BlobStore } from '../../storage/ports/blob.store';
import { SampleRecord, SampleRepository } from '../../storage/ports/sample.repository';
import { UserRepository } from '../../storage/ports/user.repository';

export type SampleSource = 'calibration' | 'upload' | 'browser';

/**
 * The user's labelled face crops: blob samples/<userId>/<id>.png (DataDirBlobStore: that path under DATA_DIR; 48x48
 * gray, lossless: exactly the classifier input) + a `samples` row. Write order: BlobStore.put (atomic and durable: on
 * files a temp file in the same folder, fsync, rename, fsync the folder), THEN the row. A sample is acknowledged only
 * when its row committed, so a crash leaves either a whole sample or, at worst, a blob without a row, which sweep()
 * removes at start-up. Depends on the ports only (BlobStore, SampleRepository, UserRepository).
 */
@Injectable()
export class SampleStore implements OnModuleInit {
  private readonly logger = new Logger('SampleStore');

  constructor(
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(SampleRepository) private readonly samples: SampleRepository,
    @Inject(UserRepository) private readonly users: UserRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    const removed = await this.sweep();
    if (removed.length) this.logger.warn(`removed ${removed.length} unfinished sample file(s)`);
  }

  /** Stores one 48x48 gray crop; resolves when the sample is durable (file and row). */
  async add(userId: string, label: LabelName, crop48: Uint8Array, source: SampleSource): Promise<SampleRecord> {
    if (!SAFE_ID.test(userId)) throw new Error(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    if (crop48.length !== INPUT_SIZE * INPUT_SIZE) throw new Error(`a sample is ${INPUT_SIZE}x${INPUT_SIZE} gray, got ${crop48.length} bytes`);
    const id = `s${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
    const file = `samples/${userId}/${id}.png`;
    const png = await sharp(Buffer.from(crop48), { raw: { width: INPUT_SIZE, height: INPUT_SIZE, channels: 1 } }).png().toBuffer();
    await this.blobs.put(file, png);
    try {
      const record: SampleRecord = { id, userId, label, file, source, sha1: sha1(crop48), createdAt: Date.now() };
      this.samples.insert(record); // throws if the user was deleted meanwhile (foreign key): the file goes below
      return record;
    } catch (e) {
      await this.blobs.remove(file);
      throw e;
    }
  }

  /** The user's samples as 48x48 gray pixels, for fine-tuning. Unreadable files are skipped (and logged). */
  async load(userId: string): Promise<{ record: SampleRecord; face: Uint8Array }[]> {
    const out: { record: SampleRecord; face: Uint8Array }[] = [];
    for (const record of this.samples.listByUser(userId)) {
      try {
        const { data, info } = await sharp(await this.blobs.get(record.file)).greyscale().raw().toBuffer({ resolveWithObject: true });
        if (info.width !== INPUT_SIZE || info.height !== INPUT_SIZE || info.channels !== 1) throw new Error(`${info.width}x${info.height}x${info.channels}`);
        out.push({ record, face: new Uint8Array(data) });
      } catch (e) {
        this.logger.error(`sample ${record.id} of ${userId} unreadable, skipped: ${(e as Error).message}`);
      }
    }
    return out;
  }

  async removeUser(userId: string): Promise<void> {
    if (!SAFE_ID.test(userId)) return;
    await this.blobs.remove(`samples/${userId}`);
  }

  /**
   * Start-up: remove temp files, files no row refers to (a crash between rename and commit) and folders of users that
   * no longer exist (a crash during a delete). Returns the removed paths, relative to DATA_DIR.
   */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    const byUser = new Map<string, string[]>();
    for (const key of (await this.blobs.list('samples')).sort()) {
      const userId = key.split('/')[1];
      const keys = byUser.get(userId) ?? [];
      keys.push(key);
      byUser.set(userId, keys);
    }
    for (const [userId, keys] of byUser) {
      if (!this.users.get(userId)) {
        await this.blobs.remove(`samples/${userId}`);
        removed.push(`samples/${userId}`);
        continue;
      }
      const known = new Set(this.samples.listByUser(userId).map((s) => s.file));
      for (const key of keys) {
        if (key.endsWith('.tmp') || !known.has(key)) {
          await this.blobs.remove(key);
          removed.push(key);
        }
      }
    }
    return removed;
  }
}

export function sha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}
