import { Inject, Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database';
import { CameraRecord, CameraRepository, StoredCameraKind } from '../ports/camera.repository';

interface Row {
  id: string;
  name: string;
  url: string;
  kind: StoredCameraKind;
  fps: number;
  loop: number;
  transport: 'tcp' | 'udp';
  user_id: string | null;
  created_at: number;
}

const toRecord = (r: Row): CameraRecord => ({
  id: r.id,
  name: r.name,
  url: r.url,
  kind: r.kind,
  fps: r.fps,
  loop: r.loop === 1,
  transport: r.transport,
  userId: r.user_id,
  createdAt: r.created_at,
});

/** The `cameras` table (migration 0). Browser cameras are ephemeral and never stored. */
@Injectable()
export class SqliteCameraRepository implements CameraRepository {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  insert(c: CameraRecord): void {
    this.database.db
      .prepare(
        `INSERT INTO cameras (id, name, url, kind, fps, loop, transport, user_id, created_at)
         VALUES (@id, @name, @url, @kind, @fps, @loop, @transport, @userId, @createdAt)`,
      )
      .run({ ...c, loop: c.loop ? 1 : 0 });
  }

  get(id: string): CameraRecord | undefined {
    const row = this.database.db.prepare('SELECT * FROM cameras WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  list(): CameraRecord[] {
    return (this.database.db.prepare('SELECT * FROM cameras ORDER BY created_at, id').all() as Row[]).map(toRecord);
  }

  /** true when a row was deleted. */
  delete(id: string): boolean {
    return this.database.db.prepare('DELETE FROM cameras WHERE id = ?').run(id).changes > 0;
  }

  setUser(id: string, userId: string | null): boolean {
    return this.database.db.prepare('UPDATE cameras SET user_id = ? WHERE id = ?').run(userId, id).changes > 0;
  }
}
