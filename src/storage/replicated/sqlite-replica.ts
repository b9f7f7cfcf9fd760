import type Database from 'better-sqlite3';
import { decodeKey } from './kv-keys';
import { decodeRow, keyJsonSql, keyOfKeyJson, rowJsonSql, TableSpec, upsertSql, whereKeySql } from './replicated-tables';

/** One row changed by a local write: its KV key and its JSON before the write (null: it did not exist). */
export interface CapturedChange {
  spec: TableSpec;
  key: string;
  before: string | null;
}

/**
 * The node's copy of the replicated tables, as StateReplicator sees it (SqliteReplica; a Map in the unit spec).
 * Every method is synchronous: it runs between two awaits, so no other write interleaves.
 */
export interface LocalReplica {
  /** Runs a local write and returns it with every row it changed, cascades included, in the order they changed. */
  capture<T>(write: () => T): { result: T; changes: CapturedChange[] };
  /** The row's JSON as the bucket would hold it, or null. */
  read(spec: TableSpec, key: string): string | null;
  /** Makes the row `json` (null: deletes it) and records `revision` as applied, atomically; false when nothing changed. */
  apply(spec: TableSpec, key: string, json: string | null, revision: number): boolean;
  /** Every local row's key. */
  keys(spec: TableSpec): string[];
  /** Every local row: key → JSON. */
  rows(spec: TableSpec): Map<string, string>;
  /** The last revision of the bucket applied here; null: this database never synced with that bucket. */
  revision(bucket: string): number | null;
  /** Records that this database holds the bucket's state (revision() is no longer null). */
  markJoined(bucket: string): void;
}

/**
 * LocalReplica on the node's SQLite connection. Local writes are captured by TEMP triggers (this connection only,
 * created at start-up, nothing in the file): AFTER INSERT/UPDATE/DELETE on each replicated table record the key and
 * the row before, into temp.iex_changes; foreign-key cascades fire them too, so deleting a user yields the deletes of
 * its samples, models and faces, and deleting a sample the update of the faces that named it.
 * Remote rows are applied with foreign keys OFF: buckets are separate streams, so a sample may arrive before its user,
 * and a user's deletion must not cascade here (its children's deletions arrive in their own buckets).
 */
export class SqliteReplica implements LocalReplica {
  private readonly readStmts = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly specs: readonly TableSpec[],
  ) {
    for (const s of specs) {
      const actual = (db.pragma(`table_info(${s.table})`) as { name: string }[]).map((c) => c.name);
      const missing = actual.filter((c) => !s.columns.includes(c));
      const extra = s.columns.filter((c) => !actual.includes(c));
      if (missing.length || extra.length) {
        throw new Error(
          `replicated table ${s.table} and its spec differ (columns not replicated: ${missing.join(', ') || 'none'}; not in the table: ${extra.join(', ') || 'none'}): update REPLICATED_TABLES with the migration`,
        );
      }
    }
    // Which revision of each bucket this database has applied (created here: only clustered nodes have it).
    db.exec('CREATE TABLE IF NOT EXISTS replication_state (bucket TEXT PRIMARY KEY, revision INTEGER NOT NULL)');
    db.exec('CREATE TEMP TABLE IF NOT EXISTS iex_changes (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, k TEXT NOT NULL, before TEXT)');
    for (const s of specs) {
      const rec = (alias: string, before: string) => `INSERT INTO temp.iex_changes (tbl, k, before) VALUES ('${s.table}', ${keyJsonSql(s, alias)}, ${before});`;
      db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS iex_rep_${s.table}_i AFTER INSERT ON main.${s.table} BEGIN ${rec('NEW', 'NULL')} END`);
      // a key that changes is the old row deleted and a new one inserted
      db.exec(
        `CREATE TEMP TRIGGER IF NOT EXISTS iex_rep_${s.table}_u AFTER UPDATE ON main.${s.table} BEGIN
           ${rec('OLD', rowJsonSql(s, 'OLD'))}
           INSERT INTO temp.iex_changes (tbl, k, before) SELECT '${s.table}', ${keyJsonSql(s, 'NEW')}, NULL
             WHERE ${keyJsonSql(s, 'NEW')} <> ${keyJsonSql(s, 'OLD')};
         END`,
      );
      db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS iex_rep_${s.table}_d AFTER DELETE ON main.${s.table} BEGIN ${rec('OLD', rowJsonSql(s, 'OLD'))} END`);
      this.readStmts.set(s.table, db.prepare(`SELECT ${rowJsonSql(s, s.table)} AS j FROM main.${s.table} WHERE ${whereKeySql(s)}`));
    }
  }

  capture<T>(write: () => T): { result: T; changes: CapturedChange[] } {
    this.drain();
    try {
      const result = write();
      return { result, changes: this.drain() };
    } catch (e) {
      this.drain(); // a write that threw was rolled back (with its trigger rows); whatever is left belongs to nobody
      throw e;
    }
  }

  read(spec: TableSpec, key: string): string | null {
    const row = this.readStmts.get(spec.table)!.get(...decodeKey(key)) as { j: string } | undefined;
    return row ? row.j : null;
  }

  apply(spec: TableSpec, key: string, json: string | null, revision: number): boolean {
    const params = json === null ? null : decodeRow(spec, key, json);
    // PRAGMA foreign_keys is a no-op inside a transaction: set it around one (nothing else runs in between).
    this.db.pragma('foreign_keys = OFF');
    try {
      return this.db.transaction(() => {
        const changed = this.read(spec, key) !== json;
        if (changed) {
          if (params === null) this.db.prepare(`DELETE FROM main.${spec.table} WHERE ${whereKeySql(spec)}`).run(...decodeKey(key));
          else this.db.prepare(upsertSql(spec)).run(params);
        }
        this.db
          .prepare('INSERT INTO replication_state (bucket, revision) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE SET revision = max(revision, excluded.revision)')
          .run(spec.bucket, revision);
        this.db.exec('DELETE FROM temp.iex_changes'); // a remote row is not a local change to publish
        return changed;
      })();
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  keys(spec: TableSpec): string[] {
    const rows = this.db.prepare(`SELECT ${keyJsonSql(spec, spec.table)} AS k FROM main.${spec.table}`).all() as { k: string }[];
    return rows.map((r) => keyOfKeyJson(r.k));
  }

  rows(spec: TableSpec): Map<string, string> {
    const rows = this.db.prepare(`SELECT ${keyJsonSql(spec, spec.table)} AS k, ${rowJsonSql(spec, spec.table)} AS j FROM main.${spec.table}`).all() as { k: string; j: string }[];
    return new Map(rows.map((r) => [keyOfKeyJson(r.k), r.j]));
  }

  revision(bucket: string): number | null {
    const row = this.db.prepare('SELECT revision FROM replication_state WHERE bucket = ?').get(bucket) as { revision: number } | undefined;
    return row ? row.revision : null;
  }

  markJoined(bucket: string): void {
    this.db.prepare('INSERT INTO replication_state (bucket, revision) VALUES (?, 0) ON CONFLICT (bucket) DO NOTHING').run(bucket);
  }

  private drain(): CapturedChange[] {
    const rows = this.db.prepare('SELECT tbl, k, before FROM temp.iex_changes ORDER BY seq').all() as { tbl: string; k: string; before: string | null }[];
    if (rows.length === 0) return [];
    this.db.exec('DELETE FROM temp.iex_changes');
    const byTable = new Map(this.specs.map((s) => [s.table, s]));
    return rows.map((r) => ({ spec: byTable.get(r.tbl)!, key: keyOfKeyJson(r.k), before: r.before }));
  }
}
