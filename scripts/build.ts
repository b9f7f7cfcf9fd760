/**
 * npm run build (and npm start's prestart): build only what is out of date.
 *   - server: `tsc -b tsconfig.build.json`, incremental (its .tsbuildinfo lives in dist/, so deleting dist/ rebuilds all);
 *     with nothing changed it compares timestamps and exits without parsing a file.
 *   - dashboard: Vite build, skipped while no file the last build read (recorded beside its output) is newer than
 *     that record, and package-lock.json and the Vite config are not either.
 *   npm run build -- --force   rebuild both
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Plugin } from 'vite';

const ROOT = resolve(__dirname, '..');
const DASHBOARD_CONFIG = join(ROOT, 'clients/dashboard/vite.config.ts');
const DASHBOARD_DIST = join(ROOT, 'clients/dashboard/dist');
/** What the last dashboard build read, relative to the repository root; written after a successful build. */
export const INPUTS_RECORD = join(DASHBOARD_DIST, '.build-inputs.json');
/** Inputs every build depends on that are not modules of the bundle. */
const ALWAYS = ['package-lock.json', 'clients/dashboard/vite.config.ts', 'clients/dashboard/index.html'];

/** Why the dashboard must be rebuilt, or null when its build is up to date. */
export function dashboardStale(root = ROOT, record = INPUTS_RECORD): string | null {
  if (!existsSync(join(root, 'clients/dashboard/dist/index.html')) || !existsSync(record)) return 'not built yet';
  const builtAt = statSync(record).mtimeMs;
  let inputs: string[];
  try {
    inputs = (JSON.parse(readFileSync(record, 'utf8')) as { inputs: string[] }).inputs;
  } catch {
    return 'unreadable build record';
  }
  for (const file of [...ALWAYS, ...inputs]) {
    const path = join(root, file);
    if (!existsSync(path)) return `${file} is gone`;
    if (statSync(path).mtimeMs > builtAt) return `${file} changed`;
  }
  return null;
}

/** Collects the source files Rollup loaded (no virtual modules, no node_modules: package-lock.json stands for those). */
function recordInputs(): Plugin {
  let inputs: string[] = [];
  return {
    name: 'iexpressionnet:record-inputs',
    apply: 'build',
    generateBundle() {
      inputs = [...this.getModuleIds()]
        .map((id) => id.split('?')[0])
        .filter((id) => isAbsolute(id) && !id.includes('/node_modules/') && existsSync(id))
        .map((id) => relative(ROOT, id))
        .sort();
    },
    closeBundle() {
      writeFileSync(INPUTS_RECORD, JSON.stringify({ inputs }, null, 1));
    },
  };
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    console.log('usage: npm run build [-- --force]   (compile the server and build the dashboard where out of date)');
    return 0;
  }
  const unknown = args.filter((a) => a !== '--force');
  if (unknown.length) {
    console.error(`unknown argument ${unknown[0]}\nusage: npm run build [-- --force]`);
    return 2;
  }
  const force = args.includes('--force');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json', ...(force ? ['--force'] : [])], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) return tsc.status ?? 1;
  const why = force ? 'forced' : dashboardStale();
  if (why === null) {
    console.log('dashboard up to date (clients/dashboard/dist)');
    return 0;
  }
  console.log(`building the dashboard (${why})`);
  const { build, createLogger } = await import('vite');
  const logger = createLogger('warn');
  const warn = logger.warn.bind(logger);
  // zod's sources carry /* @__PURE__ */ comments Rollup cannot place: harmless, not ours to fix, and they read like errors.
  logger.warn = (msg, options) => {
    if (msg.includes('contains an annotation that Rollup cannot interpret') && msg.includes('node_modules/')) return;
    warn(msg, options);
  };
  await build({ configFile: DASHBOARD_CONFIG, plugins: [recordInputs()], logLevel: 'warn', customLogger: logger });
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
