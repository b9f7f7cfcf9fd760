import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Absolute path of an executable: `name` itself when absolute, else the first match on PATH. */
export function findTool(name: string): string | null {
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * A test that needs an external tool calls this at collection time and skips when it returns null
 * (`describe.skipIf(!requireTool('ffmpeg', 'ffmpeg'))`). Under `CI=true` a missing tool is a failure, not a skip,
 * so CI never goes green by silently testing nothing.
 */
export function requireTool(name: string, aptPackage: string): string | null {
  const found = findTool(name);
  if (found) return found;
  const message = `${name} is not installed: \`apt-get install -y ${aptPackage}\``;
  if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
  console.warn(`skipping: ${message}`);
  return null;
}
