import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/storage/database';
import { DataVersionWatcher } from '../../src/storage/data-version.watcher';

const open: { dir: string; dbs: SqliteDatabase[]; watchers: DataVersionWatcher[] }[] = [];
function twoConnections() {
  const dir = mkdtempSync(join(tmpdir(), 'iex-dv-'));
  // Two connections to one file, as the server and `npm run token` are.
  const server = new SqliteDatabase(dir);
  const cli = new SqliteDatabase(dir);
  const entry = { dir, dbs: [server, cli], watchers: [] as DataVersionWatcher[] };
  open.push(entry);
  const insert = (db: SqliteDatabase, id: string) =>
    db.db.prepare("INSERT INTO tokens (id, name, scope, hash, created_at) VALUES (?, ?, 'read', 'h', 0)").run(id, id);
  const watcher = (intervalMs?: number) => {
    const w = new DataVersionWatcher(server, intervalMs);
    entry.watchers.push(w);
    return w;
  };
  return { server, cli, insert, watcher };
}
afterEach(() => {
  for (const { dir, dbs, watchers } of open.splice(0)) {
    for (const w of watchers) w.stop();
    for (const d of dbs) d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('DataVersionWatcher', () => {
  it("reports another connection's commits, not its own connection's, and nothing when nothing changed", () => {
    const { server, cli, insert, watcher } = twoConnections();
    const w = watcher();
    const seen: number[] = [];
    w.changes$.subscribe(() => seen.push(1));
    expect(w.check()).toBe(false); // baseline
    expect(w.check()).toBe(false);
    insert(server, 'own');
    expect(w.check()).toBe(false); // this connection's commit: TokenStore announces those itself
    insert(cli, 'other');
    expect(w.check()).toBe(true);
    expect(w.check()).toBe(false); // reported once
    cli.db.prepare('DELETE FROM tokens WHERE id = ?').run('other');
    expect(w.check()).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it('a rolled-back transaction of the other connection is not a change', () => {
    const { cli, watcher } = twoConnections();
    const w = watcher();
    w.check();
    cli.db.exec('BEGIN IMMEDIATE');
    cli.db.prepare("INSERT INTO tokens (id, name, scope, hash, created_at) VALUES ('x', 'x', 'read', 'h', 0)").run();
    cli.db.exec('ROLLBACK');
    expect(w.check()).toBe(false);
  });

  it('on its timer, emits after a commit by the other connection; stop() ends polling', async () => {
    const { cli, insert, watcher } = twoConnections();
    const w = watcher(20);
    w.start();
    const changed = firstValueFrom(w.changes$.pipe(take(1), timeout(5000)));
    insert(cli, 'a');
    await expect(changed).resolves.toBeUndefined();
    w.stop();
    let late = 0;
    w.changes$.subscribe(() => late++);
    insert(cli, 'b');
    await new Promise((r) => setTimeout(r, 200)); // ten intervals
    expect(late).toBe(0);
  });

  it('does not throw once the database is closed', () => {
    const { server, watcher } = twoConnections();
    const w = watcher();
    w.check();
    server.close();
    expect(w.check()).toBe(false);
  });
});
