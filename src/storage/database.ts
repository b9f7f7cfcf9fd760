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
];

export class SqliteDatabase {
  readonly db: Database.Database;

  constructor(dataDir: string, file = 'iexpressionnet.db') {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, file));
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

  close(): void {
    if (this.db.open) this.db.close();
  }
}
