// ── Test tiers (docs/ARCHITECTURE.md, "Test tiers") ─────────────────────────────────────────────────────────────────
// A unit spec sits beside the code (src/**/*.spec.ts) and runs in memory: no files, database, ONNX Runtime, processes,
// sockets or browser, and none of the integration/e2e helpers under test/. A spec that needs any of these belongs in
// test/integration (in process) or test/e2e (a real server, a child process, Chromium). sharp on in-memory buffers is
// fine. Type-only imports (`import type { WebSocket } from 'ws'`) do nothing at run time and stay allowed.
//
// This uses @typescript-eslint/no-restricted-imports, not the core rule: in flat config the last matching block
// replaces a rule's options, so reusing core `no-restricted-imports` here would silently drop the layering
// restrictions eslint.config.mjs sets per room. Two rule ids, two independent option lists.
const NODE_IO = ['fs', 'fs/promises', 'child_process', 'net', 'tls', 'http', 'https', 'http2', 'dgram', 'worker_threads', 'cluster'];
const PACKAGES = ['better-sqlite3', 'onnxruntime-node', 'ws', 'supertest', 'playwright-core'];
const WHY = 'unit specs do no I/O: move this test to test/integration or test/e2e (docs/ARCHITECTURE.md, "Test tiers")';

export const unitSpecRestrictions = {
  patterns: [
    { regex: `^(?:node:)?(?:${NODE_IO.map((m) => m.replace('/', '\\/')).join('|')})$`, allowTypeImports: true, message: WHY },
    { regex: `^(?:${PACKAGES.join('|')})(?:/|$)`, allowTypeImports: true, message: WHY },
    { regex: '^(?:\\.\\./)+test(?:/|$)', message: 'unit specs do not use the integration/e2e helpers under test/: keep fakes beside the code (e.g. src/ingest/testing/)' },
  ],
};

export default [
  { files: ['src/**/*.spec.ts', 'clients/**/*.spec.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', unitSpecRestrictions] } },
];
