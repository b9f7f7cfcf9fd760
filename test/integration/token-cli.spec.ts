import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/auth/token.store';
import { SqliteDatabase } from '../../src/storage/database';
import { SqliteTokenRepository } from '../../src/storage/sqlite/token.repository';
import { runTokenCli } from '../../scripts/token';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('token CLI', () => {
  it('create prints a token once that the store then accepts; list hides it; revoke removes it', () => {
    dir = mkdtempSync(join(tmpdir(), 'iex-token-'));
    const out: string[] = [];
    expect(runTokenCli(['create', '--scope', 'read', '--name', 'grafana'], dir, (l) => out.push(l))).toBe(0);
    const token = out[0];
    const db = new SqliteDatabase(dir);
    expect(new TokenStore(new SqliteTokenRepository(db)).find(token)).toMatchObject({ scope: 'read', name: 'grafana' });
    db.close();

    const listed: string[] = [];
    expect(runTokenCli(['list'], dir, (l) => listed.push(l))).toBe(0);
    expect(listed.join('\n')).toContain('grafana');
    expect(listed.join('\n')).not.toContain(token);

    expect(runTokenCli(['revoke', 'grafana'], dir, () => {})).toBe(0);
    expect(runTokenCli(['revoke', 'grafana'], dir, () => {})).toBe(1);
    expect(runTokenCli(['create', '--scope', 'root'], dir, () => {})).toBe(2);
    expect(runTokenCli([], dir, () => {})).toBe(2);
  });
});
