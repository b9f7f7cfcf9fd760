import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC compiles the decorators and emits the metadata NestJS's dependency injection reads.
// Three tiers (docs/ARCHITECTURE.md "Test tiers"), one project each; `vitest run` (npm test) runs all three:
// - unit: beside the code (src/**/*.spec.ts), no I/O (eslint.tiers.mjs forbids fs, sqlite, ORT, processes, sockets);
// - integration: test/integration/, real SQLite, ONNX Runtime, ffmpeg and worker threads, in process;
// - e2e: test/e2e/, a real HTTP/WS server, a child server process, Chromium or a CLI process.
// A spec outside the three tiers would match no project and silently never run: refuse to start instead.
// Vite bundles this config and defines __dirname for it (tsconfig compiles it as CommonJS, where import.meta is refused).
const root = __dirname;
const TIERED = /^(src|clients)\/.*\.spec\.ts$|^test\/(integration|e2e)\/.*\.spec\.ts$/;
const stray = ['test', 'scripts']
  .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => relative(root, join(root, dir, f))))
  .filter((f) => f.endsWith('.spec.ts') && !TIERED.test(f));
if (stray.length > 0) throw new Error(`specs outside the test tiers (move them to src/ beside the code, test/integration or test/e2e): ${stray.join(', ')}`);

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.spec.ts', 'clients/**/*.spec.ts'], testTimeout: 5_000 } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.spec.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.spec.ts'] } },
    ],
  },
});
