import { encodeKey } from './kv-keys';

/**
 * What is replicated when the node is clustered (docs/CLUSTER.md "Shared state"): one JetStream KV bucket per SQLite
 * table, key = the row's primary key (kv-keys.ts), value = the whole row as JSON. The JSON is made by SQLite itself
 * (json_object over the columns, BLOBs as hex), the same expression in the change-capture triggers and in reads, so
 * every node writes and compares byte-identical values.
 * Not replicated: `history` (per node, queried where it was recorded) and `webhook_deliveries` (each node's own log).
 */
export interface TableSpec {
  /** SQLite table. */
  readonly table: string;
  /** JetStream KV bucket (`iex-state-<table>`). */
  readonly bucket: string;
  /** Every column, in table order. */
  readonly columns: readonly string[];
  /** Primary-key columns, in key order. */
  readonly key: readonly string[];
  /** BLOB columns (carried as upper-case hex in the JSON). */
  readonly blobs: readonly string[];
}

const spec = (table: string, columns: string[], key: string[] = ['id'], blobs: string[] = []): TableSpec => ({
  table,
  bucket: `iex-state-${table}`,
  columns,
  key,
  blobs,
});

/** In the order a joining node loads them (parents before children, though applying never needs it: see SqliteReplica). */
export const REPLICATED_TABLES: readonly TableSpec[] = [
  spec('users', ['id', 'name', 'active_version', 'created_at']),
  spec('cameras', ['id', 'name', 'url', 'kind', 'fps', 'loop', 'transport', 'user_id', 'created_at']),
  spec('samples', ['id', 'user_id', 'label', 'file', 'source', 'sha1', 'created_at']),
  spec('models', ['user_id', 'version', 'file', 'sha256', 'metrics', 'created_at', 'trunk_sha256'], ['user_id', 'version']),
  spec('faces', ['id', 'user_id', 'embedding', 'model_sha', 'sample_id', 'source', 'file', 'created_at'], ['id'], ['embedding']),
  spec('tokens', ['id', 'name', 'scope', 'hash', 'created_at']),
  spec('webhooks', ['id', 'url', 'camera_id', 'user_id', 'label', 'min_score', 'min_duration_ms', 'cooldown_ms', 'secret', 'enabled', 'created_at']),
];

/** A replicated value that is not a row of its table (another version's schema, a foreign writer): never applied. */
export class BadReplicatedRowError extends Error {}

/** SQL for the row of `alias` (`NEW`, `OLD`, or a table name) as the JSON the bucket holds. */
export function rowJsonSql(s: TableSpec, alias: string): string {
  const pairs = s.columns.map((c) => `'${c}', ${s.blobs.includes(c) ? `hex(${alias}.${c})` : `${alias}.${c}`}`);
  return `json_object(${pairs.join(', ')})`;
}

/** SQL for the primary key of `alias` as a JSON array (decoded by keyOfKeyJson). */
export function keyJsonSql(s: TableSpec, alias: string): string {
  return `json_array(${s.key.map((c) => `${alias}.${c}`).join(', ')})`;
}

/** The KV key of a primary key captured as a JSON array by keyJsonSql. */
export function keyOfKeyJson(keyJson: string): string {
  return encodeKey(JSON.parse(keyJson) as (string | number)[]);
}

/**
 * A row's JSON (from the bucket) → named SQL parameters, BLOBs decoded; its KV key must be `key` (a value stored under
 * another row's key is refused, so a bad writer cannot make two keys name one row).
 */
export function decodeRow(s: TableSpec, key: string, json: string): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(json);
  } catch {
    throw new BadReplicatedRowError(`${s.bucket}/${key}: not JSON`);
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new BadReplicatedRowError(`${s.bucket}/${key}: not a row`);
  const r = row as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const c of s.columns) {
    if (!(c in r)) throw new BadReplicatedRowError(`${s.bucket}/${key}: column ${c} missing`);
    const v = r[c];
    if (s.blobs.includes(c)) {
      if (v !== null && (typeof v !== 'string' || !/^(?:[0-9A-F]{2})*$/.test(v))) throw new BadReplicatedRowError(`${s.bucket}/${key}: ${c} is not hex`);
      params[c] = v === null ? null : Buffer.from(v, 'hex');
    } else {
      if (v !== null && typeof v !== 'string' && typeof v !== 'number') throw new BadReplicatedRowError(`${s.bucket}/${key}: ${c} is not a scalar`);
      params[c] = v;
    }
  }
  for (const c of s.key) {
    if (params[c] === null || params[c] === undefined) throw new BadReplicatedRowError(`${s.bucket}/${key}: key column ${c} is null`);
  }
  const own = encodeKey(s.key.map((c) => params[c] as string | number));
  if (own !== key) throw new BadReplicatedRowError(`${s.bucket}/${key}: the row's own key is ${own}`);
  return params;
}

/** INSERT … ON CONFLICT DO UPDATE (never REPLACE: that deletes first, which would cascade to child rows). */
export function upsertSql(s: TableSpec): string {
  const others = s.columns.filter((c) => !s.key.includes(c));
  const update = others.length ? `DO UPDATE SET ${others.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'DO NOTHING';
  return `INSERT INTO main.${s.table} (${s.columns.join(', ')}) VALUES (${s.columns.map((c) => `@${c}`).join(', ')})
          ON CONFLICT (${s.key.join(', ')}) ${update}`;
}

/** WHERE clause matching one key, with positional parameters in key order. */
export function whereKeySql(s: TableSpec): string {
  return s.key.map((c) => `${c} = ?`).join(' AND ');
}
