import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SAFE_PATH_SEGMENT as SAFE_ID, writeFileAtomic } from '../../storage/atomic-file';
import sharp from 'sharp';
import { CONFIG, Config } from '../../config';
import type { LabelName } from '../../contracts/labels';
import { INPUT_SIZE } from '../../inference/preprocess';
import { SampleRecord, SampleRepository } from '../../storage/sample.repository';
import { UserRepository } from '../../storage/user.repository';

export type SampleSource = 'calibration' | 'upload' | 'browser';

/**
 * The user's labelled face crops: DATA_DIR/samples/<userId>/<id>.png (48x48 gray, lossless: exactly the classifier
 * input) + a `samples` row. Write order: temp file in the same folder, fsync, rename, fsync the folder, THEN the row.
 * A sample is acknowledged only when its row committed, so a crash leaves either a whole sample or, at worst, a file
 * without a row, which sweep() removes at start-up.
 */
@Injectable()
export class SampleStore implements OnModuleInit {
  private readonly logger = new Logger('SampleStore');
  private readonly root: string;
  private readonly dataDir: string;

  constructor(
    @Inject(CONFIG) config: Pick<Config, 'dataDir'>,
    @Inject(SampleRepository) private readonly samples: SampleRepository,
    @Inject(UserRepository) private readonly users: UserRepository,
  ) {
    this.dataDir = config.dataDir;
    this.root = join(config.dataDir, 'samples');
  }

  async onModuleInit(): Promise<void> {
    const removed = await this.sweep();
    if (removed.length) this.logger.warn(`removed ${removed.length} unfinished sample file(s)`);
  }

  /** Stores one 48x48 gray crop; resolves when the sample is durable (file and row). */
  async add(userId: string, label: LabelName, crop48: Uint8Array, source: SampleSource): Promise<SampleRecord> {
    if (!SAFE_ID.test(userId)) throw new Error(`unsafe user id for a file name: ${JSON.stringify(userId)}`);
    if (crop48.length !== INPUT_SIZE * INPUT_SIZE) throw new Error(`a sample is ${INPUT_SIZE}x${INPUT_SIZE} gray, got ${crop48.length} bytes`);
    const id = `s${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
    const dir = join(this.root, userId);
    const file = join('samples', userId, `${id}.png`);
    const png = await sharp(Buffer.from(crop48), { raw: { width: INPUT_SIZE, height: INPUT_SIZE, channels: 1 } }).png().toBuffer();
    const final = join(dir, `${id}.png`);
    await writeFileAtomic(final, png);
    try {
      const record: SampleRecord = { id, userId, label, file, source, sha1: sha1(crop48), createdAt: Date.now() };
      this.samples.insert(record); // throws if the user was deleted meanwhile (foreign key): the file goes below
      return record;
    } catch (e) {
      await rm(final, { force: true });
      throw e;
    }
  }

  /** The user's samples as 48x48 gray pixels, for fine-tuning. Unreadable files are skipped (and logged). */
  async load(userId: string): Promise<{ record: SampleRecord; face: Uint8Array }[]> {
    const out: { record: SampleRecord; face: Uint8Array }[] = [];
    for (const record of this.samples.listByUser(userId)) {
      try {
        const { data, info } = await sharp(join(this.dataDir, record.file)).greyscale().raw().toBuffer({ resolveWithObject: true });
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
    await rm(join(this.root, userId), { recursive: true, force: true });
  }

  /**
   * Start-up: remove temp files, files no row refers to (a crash between rename and commit) and folders of users that
   * no longer exist (a crash during a delete). Returns the removed paths, relative to DATA_DIR.
   */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch {
      return removed;
    }
    for (const userId of dirs) {
      const dir = join(this.root, userId);
      if (!this.users.get(userId)) {
        await rm(dir, { recursive: true, force: true });
        removed.push(join('samples', userId));
        continue;
      }
      const known = new Set(this.samples.listByUser(userId).map((s) => s.file));
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const rel = join('samples', userId, n);
        if (n.endsWith('.tmp') || !known.has(rel)) {
          await rm(join(dir, n), { force: true });
          removed.push(rel);
        }
      }
    }
    return removed;
  }
}

export function sha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}
