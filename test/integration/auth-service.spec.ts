import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthModule } from '../../src/auth/auth.module';
import { AuthService } from '../../src/auth/auth.service';
import { hashToken, TOKEN_PREFIX } from '../../src/auth/token';
import { TokenStore } from '../../src/auth/token.store';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { scopeAllows } from '../../src/contracts/scopes';
import { DataVersionWatcher } from '../../src/storage/data-version.watcher';
import { SqliteDatabase } from '../../src/storage/database';
import { StorageModule } from '../../src/storage/storage.module';
import { SqliteTokenRepository } from '../../src/storage/sqlite/token.repository';

const dirs: string[] = [];
async function build(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iex-auth-'));
  dirs.push(dir);
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(loadConfig({ DATA_DIR: dir, ...env })), StorageModule, AuthModule],
  }).compile();
  return { auth: moduleRef.get(AuthService), store: moduleRef.get(TokenStore), db: moduleRef.get(SqliteDatabase), moduleRef };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('TokenStore', () => {
  it('stores only a hash, finds by token, lists without secrets, revokes by id or name', async () => {
    const { store, db, moduleRef } = await build();
    const t = store.create('admin', 'ci');
    expect(t.token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(t.token.length).toBeGreaterThan(40);
    const rows = db.db.prepare('SELECT * FROM tokens').all() as { hash: string }[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(t.token);
    expect(rows[0].hash).toBe(hashToken(t.token));
    expect(store.find(t.token)).toMatchObject({ id: t.id, scope: 'admin', name: 'ci' });
    expect(store.find(t.token + 'x')).toBeNull();
    expect(JSON.stringify(store.list())).not.toContain('sha256');
    const r = store.create('read');
    expect(r.name).toBe(`token-${r.id}`);
    expect(store.count()).toBe(2);
    expect(store.revoke(r.id)).toBe(1);
    expect(store.revoke('ci')).toBe(1);
    expect(store.revoke('ci')).toBe(0);
    expect(store.find(t.token)).toBeNull();
    expect(() => store.create('root' as never)).toThrow(/scope/);
    await moduleRef.close();
  });
});

describe('AuthService', () => {
  it('env tokens give their scope; wrong ones nothing', async () => {
    const { auth } = await build({ ADMIN_TOKEN: 'admin-secret-1', READ_TOKEN: 'read-secret-1' });
    expect(auth.verify('admin-secret-1')).toEqual({ scope: 'admin', name: 'env:admin' });
    expect(auth.verify('read-secret-1')).toEqual({ scope: 'read', name: 'env:read' });
    expect(auth.verify('admin-secret-')).toBeNull();
    expect(auth.verify('')).toBeNull();
    expect(auth.isOpen()).toBe(false);
    expect(auth.openPrincipal('127.0.0.1')).toBeNull();
  });

  it('open only while no token exists anywhere, and only for loopback clients', async () => {
    const { auth, store } = await build();
    expect(auth.isOpen()).toBe(true);
    expect(auth.openPrincipal('127.0.0.1')).toMatchObject({ scope: 'admin' });
    expect(auth.openPrincipal('::ffff:127.0.0.1')).toMatchObject({ scope: 'admin' });
    expect(auth.openPrincipal('192.168.0.9')).toBeNull();
    const t = store.create('read');
    expect(auth.isOpen()).toBe(false);
    expect(auth.openPrincipal('127.0.0.1')).toBeNull();
    expect(auth.verify(t.token)).toMatchObject({ scope: 'read' });
  });

  it('stillValid: a stored token until revoked (here or by another connection), open until a token exists, env always', async () => {
    const { auth, store, moduleRef } = await build({ ADMIN_TOKEN: 'admin-secret-1' });
    await moduleRef.init(); // starts the DataVersionWatcher (its baseline)
    const changes: number[] = [];
    auth.changes$().subscribe(() => changes.push(1));
    const env = auth.verify('admin-secret-1')!;
    const a = auth.verify(store.create('read', 'a').token)!;
    const b = auth.verify(store.create('admin', 'b').token)!;
    expect(a.tokenId).toEqual(expect.any(String));
    expect(changes).toHaveLength(2); // the two creations, announced in-process
    store.revoke('a');
    expect(changes).toHaveLength(3);
    expect(auth.stillValid(a)).toBe(false);
    expect(auth.stillValid(b)).toBe(true);
    expect(auth.stillValid(env)).toBe(true);

    // The CLI's connection: seen by data_version, not by the server's TokenStore.
    const cli = new SqliteDatabase(dirs[dirs.length - 1]);
    new TokenStore(new SqliteTokenRepository(cli)).revoke('b');
    cli.close();
    moduleRef.get(DataVersionWatcher).check(); // what its 1 s timer does
    expect(changes).toHaveLength(4);
    expect(auth.stillValid(b)).toBe(false);
    await moduleRef.close();

    const open = await build();
    const principal = open.auth.openPrincipal('127.0.0.1')!;
    expect(open.auth.stillValid(principal)).toBe(true);
    open.store.create('read');
    expect(open.auth.stillValid(principal)).toBe(false);
  });

  it('reads bearer tokens from headers and subprotocols', () => {
    expect(AuthService.bearerFrom({ authorization: 'Bearer abc.DEF-_' })).toBe('abc.DEF-_');
    expect(AuthService.bearerFrom({ authorization: 'bearer   xyz ' })).toBe('xyz');
    expect(AuthService.bearerFrom({ authorization: 'Basic Zm9v' })).toBeNull();
    expect(AuthService.bearerFrom({})).toBeNull();
    expect(AuthService.subprotocolTokenFrom({ 'sec-websocket-protocol': 'iex.v1, bearer.tok123' })).toBe('tok123');
    expect(AuthService.subprotocolTokenFrom({ 'sec-websocket-protocol': 'iex.v1, bearer.' })).toBeNull();
  });

  it('admin covers read, not the other way', () => {
    expect(scopeAllows('admin', 'admin')).toBe(true);
    expect(scopeAllows('admin', 'read')).toBe(true);
    expect(scopeAllows('read', 'read')).toBe(true);
    expect(scopeAllows('read', 'admin')).toBe(false);
  });
});
