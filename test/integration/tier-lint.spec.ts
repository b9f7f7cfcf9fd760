import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

/**
 * Proves that eslint.tiers.mjs keeps unit specs free of I/O (docs/ARCHITECTURE.md, "Test tiers"), through the real
 * configuration read from disk as `npm run lint` reads it, and that it does not switch off the layering rules for specs.
 */
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

async function errors(file: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: join(ROOT, file) });
  return result.messages.filter((m) => /restricted/.test(m.ruleId ?? '')).map((m) => ({ rule: m.ruleId, message: m.message }));
}

const TIER = '@typescript-eslint/no-restricted-imports';

describe('unit-tier lint', () => {
  const forbidden: [string, string][] = [
    ['src/ingest/x.spec.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;"],
    ['src/ingest/x.spec.ts', "import { writeFile } from 'fs/promises';\nexport const a = writeFile;"],
    ['src/ingest/x.spec.ts', "import { spawn } from 'child_process';\nexport const a = spawn;"],
    ['src/delivery/x.spec.ts', "import { createServer } from 'node:net';\nexport const a = createServer;"],
    ['src/storage/x.spec.ts', "import Database from 'better-sqlite3';\nexport const a = Database;"],
    ['src/inference/x.spec.ts', "import * as ort from 'onnxruntime-node';\nexport const a = ort;"],
    ['src/delivery/x.spec.ts', "import { WebSocket } from 'ws';\nexport const a = WebSocket;"],
    ['src/delivery/x.spec.ts', "import request from 'supertest';\nexport const a = request;"],
    ['src/delivery/x.spec.ts', "import { chromium } from 'playwright-core';\nexport const a = chromium;"],
    ['src/inference/pool/x.spec.ts', "import { D6 } from '../../../test/support/video';\nexport const a = D6;"],
  ];
  it.each(forbidden)('%s: %s is an error', async (file, code) => {
    expect((await errors(file, code)).map((e) => e.rule)).toContain(TIER);
  });

  const allowed: [string, string][] = [
    ['src/delivery/x.spec.ts', "import type { WebSocket } from 'ws';\nexport type A = WebSocket;"], // types only: no I/O
    ['src/ingest/x.spec.ts', "import sharp from 'sharp';\nexport const a = sharp;"], // in-memory buffers
    ['src/ingest/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;"], // code, not a spec
    ['test/integration/x.spec.ts', "import Database from 'better-sqlite3';\nexport const a = Database;"],
  ];
  it.each(allowed)('%s: %s is clean', async (file, code) => {
    expect(await errors(file, code)).toEqual([]);
  });

  it('leaves the layering rule in force for specs', async () => {
    const found = await errors('src/pipeline/x.spec.ts', "import { readFileSync } from 'node:fs';\nimport { LayerProbe } from '../delivery/probe';\nexport const a = [readFileSync, LayerProbe];");
    expect(found.map((e) => e.rule).sort()).toEqual(['@typescript-eslint/no-restricted-imports', 'no-restricted-imports']);
  });
});
