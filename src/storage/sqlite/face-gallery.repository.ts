import { Inject, Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database';
import { FACE_EMBEDDING_DIM, FaceGallery, FaceRecord, FaceSource } from '../ports/face-gallery.repository';

interface Row {
  id: string;
  user_id: string;
  embedding: Buffer;
  model_sha: string;
  sample_id: string | null;
  source: FaceSource;
  file: string;
  created_at: number;
}

/** The blob as float32 values: copied into its own aligned buffer (a Buffer from SQLite may be a view at any offset). */
const toRecord = (r: Row): FaceRecord => ({
  id: r.id,
  userId: r.user_id,
  embedding: new Float32Array(new Uint8Array(r.embedding).buffer),
  modelSha: r.model_sha,
  sampleId: r.sample_id,
  source: r.source,
  file: r.file,
  createdAt: r.created_at,
});

/**
 * The `faces` table: one row per enrolled face, the embedding as a 512-byte little-endian float32 blob (the CHECK in
 * the migration refuses any other length, so a row is a whole embedding or nothing). Deleting the user cascades; deleting
 * the sample it came from only clears sample_id (the face is still that user's face).
 */
@Injectable()
export class SqliteFaceGallery implements FaceGallery {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  insert(f: FaceRecord): void {
    if (f.embedding.length !== FACE_EMBEDDING_DIM || !f.embedding.every(Number.isFinite)) {
      throw new Error(`a face embedding is ${FACE_EMBEDDING_DIM} finite float32 values, got ${f.embedding.length}`);
    }
    this.database.db
      .prepare(
        `INSERT INTO faces (id, user_id, embedding, model_sha, sample_id, source, file, created_at)
         VALUES (@id, @userId, @embedding, @modelSha, @sampleId, @source, @file, @createdAt)`,
      )
      .run({ ...f, embedding: Buffer.from(f.embedding.buffer, f.embedding.byteOffset, f.embedding.byteLength) });
  }

  get(id: string): FaceRecord | undefined {
    const row = this.database.db.prepare('SELECT * FROM faces WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  listByUser(userId: string): FaceRecord[] {
    return (this.database.db.prepare('SELECT * FROM faces WHERE user_id = ? ORDER BY created_at, id').all(userId) as Row[]).map(toRecord);
  }

  listByModel(modelSha: string): FaceRecord[] {
    return (this.database.db.prepare('SELECT * FROM faces WHERE model_sha = ? ORDER BY user_id, created_at, id').all(modelSha) as Row[]).map(toRecord);
  }

  countByUser(userId: string, modelSha?: string): number {
    const row = (
      modelSha === undefined
        ? this.database.db.prepare('SELECT COUNT(*) AS n FROM faces WHERE user_id = ?').get(userId)
        : this.database.db.prepare('SELECT COUNT(*) AS n FROM faces WHERE user_id = ? AND model_sha = ?').get(userId, modelSha)
    ) as { n: number };
    return row.n;
  }

  allFiles(): Set<string> {
    return new Set((this.database.db.prepare('SELECT file FROM faces').all() as { file: string }[]).map((r) => r.file));
  }

  delete(id: string): boolean {
    return this.database.db.prepare('DELETE FROM faces WHERE id = ?').run(id).changes === 1;
  }
}
