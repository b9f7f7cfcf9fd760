/** Command-line parsing shared by the scripts: `--help`, and a clear message + exit 2 for bad arguments. */
import { parseArgs, ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export function fail(message: string, usage?: string): never {
  process.stderr.write(`error: ${message}\n${usage ? `usage: ${usage}\n` : ''}`);
  process.exit(2);
}

/** Parses argv (strict); `--help`/`-h` prints `usage` and exits 0; an unknown or malformed option exits 2. */
export function cliArgs<O extends Options>(usage: string, options: O) {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (err) {
    fail((err as Error).message, usage);
  }
}

/** A numeric option: a finite number within [min, max] (an integer when `int`), else exit 2 naming it. */
export function numberArg(name: string, value: string | undefined, opts: { min?: number; max?: number; int?: boolean } = {}): number {
  const n = Number(value);
  const { min = -Infinity, max = Infinity, int = false } = opts;
  if (value === undefined || value === '' || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
    fail(`--${name} must be ${int ? 'an integer' : 'a number'}${Number.isFinite(min) ? ` >= ${min}` : ''}${Number.isFinite(max) ? ` and <= ${max}` : ''} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** For scripts with their own argument parser: whatever it throws is a bad-arguments error (message, exit 2). */
export function parsedOrFail<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
}
