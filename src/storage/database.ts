import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The one SQLite connection. WAL + synchronous=FULL: a transaction that returned is on disk (survives kill -9 and
 * power loss); readers never block the writer. Schema changes are numbered migrations, applied in one transaction each.
 */
export const MIGRATIONS: string[] = [
  `CREATE TABLE cameras (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     url TEXT NOT NULL,
     kind TEXT NOT NULL,
     fps REAL NOT NULL,
     loop INTEGER NOT NULL DEFAULT 0,
     transport TEXT NOT NULL DEFAULT 'tcp',
     user_id TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE users (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     active_version INTEGER,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE samples (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     label TEXT NOT NULL,
     file TEXT NOT NULL,
     source TEXT NOT NULL,
     sha1 TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX samples_user ON samples(user_id, label);
   CREATE TABLE models (
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     file TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     metrics TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, version)
   );
   CREATE TABLE tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     scope TEXT NOT NULL CHECK (scope IN ('read', 'admin')),
     hash TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // history (docs/HISTORY.md): one row per track per HISTORY_RESOLUTION_MS. No foreign keys: a row outlives its camera,
  // and a user's rows are deleted in small batches on 'user.deleted' (one cascade could hold the event loop for seconds).
  // Indexes: a camera's or a user's range, and ts alone for retention and all-camera queries.
  `CREATE TABLE history (
     ts INTEGER NOT NULL,
     camera_id TEXT NOT NULL,
     track_id INTEGER NOT NULL,
     user_id TEXT,
     label TEXT NOT NULL,
     angry REAL NOT NULL, disgust REAL NOT NULL, fear REAL NOT NULL, happy REAL NOT NULL,
     sad REAL NOT NULL, surprise REAL NOT NULL, neutral REAL NOT NULL,
     faces INTEGER NOT NULL,
     frames INTEGER NOT NULL,
     box_x INTEGER NOT NULL, box_y INTEGER NOT NULL, box_w INTEGER NOT NULL, box_h INTEGER NOT NULL
   );
   CREATE INDEX history_camera_ts ON history(camera_id, ts);
   CREATE INDEX history_user_ts ON history(user_id, ts) WHERE user_id IS NOT NULL;
   CREATE INDEX history_ts ON history(ts);`,
  // webhook rules and their delivery log (docs/INTEGRATIONS.md, "Webhooks"). The secret is stored as is: it signs.
  `CREATE TABLE webhooks (
     id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     camera_id TEXT,
     user_id TEXT,
     label TEXT,
     min_score REAL NOT NULL,
     min_duration_ms INTEGER NOT NULL,
     cooldown_ms INTEGER NOT NULL,
     secret TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE webhook_deliveries (
     id TEXT PRIMARY KEY,
     webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     response_status INTEGER,
     last_error TEXT,
     event TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX webhook_deliveries_rule ON webhook_deliveries(webhook_id, created_at);`,
  // faces (docs/IDENTITY.md "Enrolment"): one enrolled face embedding per row; the aligned crop is a blob
  // (faces/<user>/<id>.png) written before the row. 512 bytes = 128 float32: a row is a whole embedding or nothing.
  `CREATE TABLE faces (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     embedding BLOB NOT NULL CHECK (length(embedding) = 512),
     model_sha TEXT NOT NULL,
     sample_id TEXT REFERENCES samples(id) ON DELETE SET NULL,
     source TEXT NOT NULL CHECK (source IN ('sample', 'enrol', 'live')),
     file TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX faces_user ON faces(user_id, created_at);
   CREATE INDEX faces_model ON faces(model_sha);
   CREATE INDEX faces_sample ON faces(sample_id);`,
  // issue 17 (docs/PERSONALIZATION.md "When the trunk changes"): the sha256 of the trunk.onnx each personal head was
  // trained on. Every head stored before this column was trained on the trunk shipped then (models/manifest.json,
  // general/trunk.onnx of the 65.2% model), so that is what existing rows get.
  `ALTER TABLE models ADD COLUMN trunk_sha256 TEXT NOT NULL DEFAULT '';
   UPDATE models SET trunk_sha256 = '1b41bc133d325aef7445a609a5c3b88f72d4a4e8c247b921a0c794f93e6084f7';`,
];

export class SqliteDatabase {
  readonly db: Database.Database;
  readonly path: string;

  constructor(dataDir: string, file = 'iexpressionnet.db') {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, file);
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * Runs `write` (a transaction) with synchronous=NORMAL: in WAL mode its commit is not fsynced (the next FULL commit or
   * checkpoint makes it durable). Only for rows the server already holds in memory for seconds before writing them and
   * that are written every second, as the event loop that serves the cameras would otherwise wait for a disk flush
   * (4-17 ms measured on a busy 2-core VM) each time: history rows and the webhook delivery log. A process crash loses
   * nothing of them; a power loss, at most the last writes. Everything else stays FULL.
   */
  withoutFsync<T>(write: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return write();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /**
   * A read-only connection of its own, for a long read (a streamed export): better-sqlite3 refuses every other
   * statement on a connection while one of its iterators is open, and WAL lets this reader see a consistent snapshot
   * while the main connection keeps writing. The caller closes it.
   */
  openReader(): Database.Database {
    const reader = new Database(this.path, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    return reader;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
