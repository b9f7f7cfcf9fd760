import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Where a worker thread's code is: compiled JS beside the caller (dist/), or, when running from sources (tsx,
 * vitest), the .ts file, required through tsx's CommonJS hook from a one-line eval bootstrap. (`execArgv: ['--import',
 * 'tsx']` does not reach a worker's entry file on Node 20: its module hooks are registered after the entry is resolved.)
 */
export interface WorkerEntry {
  file: string;
  eval: boolean;
}

export function workerEntryFor(dir: string, name: string): WorkerEntry {
  const js = join(dir, `${name}.js`);
  if (existsSync(js)) return { file: js, eval: false };
  const ts = join(dir, `${name}.ts`);
  const tsxCjs = createRequire(join(dir, 'x.js')).resolve('tsx/cjs');
  return { file: `require(${JSON.stringify(tsxCjs)}); require(${JSON.stringify(ts)});`, eval: true };
}
