/**
 * API tokens stored (hashed) in the data directory's database.
 *   npm run token -- create --scope admin|read [--name NAME]   prints the token once
 *   npm run token -- list
 *   npm run token -- revoke <id|name>   (a running server closes the WebSockets using it within ~1 s: it watches
 *                                       SQLite's data_version, see docs/RELIABILITY.md)
 * DATA_DIR as for the server (default ./data).
 */
import 'reflect-metadata';
import { TokenStore } from '../src/auth/token.store';
import { ConfigError, loadConfig } from '../src/config';
import { SqliteDatabase } from '../src/storage/database';
import { SqliteTokenRepository } from '../src/storage/sqlite/token.repository';

const USAGE = `usage:
  npm run token -- create --scope admin|read [--name NAME]
  npm run token -- list
  npm run token -- revoke <id|name>`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

export function runTokenCli(args: string[], dataDir: string, out: (line: string) => void): number {
  const [command, ...rest] = args;
  const database = new SqliteDatabase(dataDir);
  try {
    const store = new TokenStore(new SqliteTokenRepository(database));
    switch (command) {
      case 'create': {
        const scope = option(rest, 'scope');
        if (scope !== 'admin' && scope !== 'read') {
          out('--scope must be admin or read');
          return 2;
        }
        const t = store.create(scope, option(rest, 'name'));
        out(t.token);
        out(`(${t.scope} token "${t.name}", id ${t.id}: shown once, only its hash is stored)`);
        return 0;
      }
      case 'list': {
        const tokens = store.list();
        if (tokens.length === 0) out('no stored tokens');
        for (const t of tokens) out(`${t.id}  ${t.scope.padEnd(5)}  ${new Date(t.createdAt).toISOString()}  ${t.name}`);
        return 0;
      }
      case 'revoke': {
        const which = rest[0];
        if (!which) {
          out(USAGE);
          return 2;
        }
        const n = store.revoke(which);
        out(n ? `revoked ${n} token(s)` : `no token with id or name "${which}"`);
        return n ? 0 : 1;
      }
      default:
        out(USAGE);
        return 2;
    }
  } finally {
    database.close();
  }
}

if (require.main === module) {
  try {
    const config = loadConfig();
    process.exitCode = runTokenCli(process.argv.slice(2), config.dataDir, (l) => console.log(l));
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exitCode = 2;
  }
}
