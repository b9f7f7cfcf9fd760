import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import tiers from './eslint.tiers.mjs';

// ── Layering (docs/ARCHITECTURE.md, "Layers: what may import what") ───────────────────────────────────────────────
// Each top-level folder of src/ is a room. A room may import only the rooms listed in MAY, plus src/config.ts (all but
// contracts). Core `no-restricted-imports` matches the import text, not the resolved file, so the blocks below are
// generated per room *and per folder depth*: from src/<room>/a/b.ts (depth 1) an import leaves the room exactly when it
// starts with two `../`, and the next segment names the room it enters. Imports therefore stay relative (no path
// aliases) and never climb above src/ and back. In flat config the last block that matches a file replaces a rule's
// options, so each file is matched by exactly one layering block carrying every restriction (rooms, ModuleRef, ONNX
// Runtime, browser-safe contracts). test/integration/layering-lint.spec.ts proves that each restriction fires.
export const ROOMS = ['contracts', 'storage', 'inference', 'events', 'cluster', 'ingest', 'pipeline', 'personalization', 'history', 'auth', 'integrations', 'delivery'];
export const MAY = {
  contracts: [],
  storage: ['contracts'],
  inference: ['contracts'],
  events: ['contracts'],
  cluster: ['contracts', 'events'], // NATS: the networked EventBus and membership; infrastructure beside storage/events
  ingest: ['contracts', 'storage', 'inference', 'events'], // inference: image-format.ts, which encoded frames are opened
  pipeline: ['contracts', 'inference', 'events'],
  personalization: ['contracts', 'storage', 'inference', 'events'],
  history: ['contracts', 'storage', 'events'], // expression events from the bus -> stored rows (docs/HISTORY.md)
  auth: ['contracts', 'storage'],
  integrations: ['contracts', 'storage', 'events'], // MQTT / webhooks: read the bus, publish outward (docs/INTEGRATIONS.md)
  delivery: ROOMS.filter((r) => r !== 'delivery'),
};
/** Deepest folder level generated exactly (src/<room>/a/b/c/d.ts is depth 3); deeper files get the depth-free check. */
const MAX_DEPTH = 4;

const LOOKUP = 'no service look-ups: publish or subscribe on the EventBus, or inject a port (docs/ARCHITECTURE.md)';
const MODULE_REF = { name: '@nestjs/core', importNames: ['ModuleRef'], message: LOOKUP };
const MODULE_REF_DEEP = { regex: '^@nestjs/core/injector(/|$)', message: LOOKUP };
const ORT_MESSAGE = 'ONNX Runtime lives in src/inference: create sessions with OrtSessionFactory (inference/ort.sessions.ts)';
const ORT = { name: 'onnxruntime-node', message: ORT_MESSAGE };
// contracts are bundled into the browser SDK and dashboard by Vite: zod and other contracts files only.
const BROWSER_SAFE = { regex: '^(?!\\.|zod(/|$))', message: 'contracts are browser-safe: import only zod and other contracts files (no node:, @nestjs, rxjs, sharp, …)' };

/** `../` repeated `up` times, then one of `names` as the next path segment (up = null: any number of `../`). */
const leaving = (up, names) => `^${up === null ? '(?:\\.\\./)+' : `(?:\\.\\./){${up}}`}(?:${names.join('|')})(?:/|$|\\.ts$)`;

/** The options of `no-restricted-imports` for a file of `room` at folder `depth` below src/<room>/ (depth null: any). */
export function layerRestrictions(room, depth) {
  const up = depth === null ? null : depth + 1;
  const banned = ROOMS.filter((r) => r !== room && !MAY[room].includes(r));
  const patterns = [
    MODULE_REF_DEEP,
    { regex: leaving(up, ['app\\.module', 'main']), caseSensitive: true, message: 'only the bootstrap (src/main.ts) imports app.module' },
  ];
  if (banned.length > 0) {
    patterns.push({
      regex: leaving(up, banned),
      caseSensitive: true,
      message: `${room} may import only ${MAY[room].join(', ') || 'other contracts files'} (docs/ARCHITECTURE.md)`,
    });
  }
  if (room === 'contracts') {
    patterns.push({ regex: leaving(up, ['config', 'config\\.module']), caseSensitive: true, message: 'contracts are browser-safe: no server configuration' }, BROWSER_SAFE);
  }
  return { paths: room === 'inference' ? [MODULE_REF] : [MODULE_REF, ORT], patterns };
}

const SESSION_CREATE = ['InferenceSession', 'TrainingSession'].flatMap((cls) => [
  { selector: `MemberExpression[property.name='create'][object.name='${cls}']`, message: 'create ONNX Runtime sessions only through OrtSessionFactory (src/inference/ort.sessions.ts)' },
  { selector: `MemberExpression[property.name='create'][object.property.name='${cls}']`, message: 'create ONNX Runtime sessions only through OrtSessionFactory (src/inference/ort.sessions.ts)' },
]);
const DYNAMIC_ORT = [
  { selector: "ImportExpression[source.value='onnxruntime-node']", message: ORT_MESSAGE },
  { selector: "CallExpression[callee.name='require'][arguments.0.value='onnxruntime-node']", message: ORT_MESSAGE },
  { selector: "TSImportType[argument.literal.value='onnxruntime-node']", message: ORT_MESSAGE },
];

const roomBlocks = (room) => [
  ...Array.from({ length: MAX_DEPTH }, (_, depth) => ({
    files: [`src/${room}/${'*/'.repeat(depth)}*.ts`],
    rules: { 'no-restricted-imports': ['error', layerRestrictions(room, depth)] },
  })),
  { files: [`src/${room}/${'*/'.repeat(MAX_DEPTH)}**/*.ts`], rules: { 'no-restricted-imports': ['error', layerRestrictions(room, null)] } },
];

const layering = [
  // ModuleRef is banned everywhere, tests and scripts included; the room blocks below repeat it in their own lists.
  { files: ['**/*.{ts,tsx,mts,js,mjs}'], rules: { 'no-restricted-imports': ['error', { paths: [MODULE_REF], patterns: [MODULE_REF_DEEP] }] } },
  // src/*.ts (main, app.module, config, logger) wire the rooms together and may import any of them, but not ONNX Runtime.
  { files: ['src/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [MODULE_REF, ORT], patterns: [MODULE_REF_DEEP] }] } },
  ...ROOMS.flatMap(roomBlocks),
  // The SDK shares only the browser-safe contracts with the server; the dashboard reaches the server through the SDK.
  {
    files: ['clients/sdk/src/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [MODULE_REF], patterns: [MODULE_REF_DEEP, { regex: '^(?:\\.\\./){3}src/(?!contracts(?:/|$))', caseSensitive: true, message: 'the SDK imports only src/contracts from the server (its barrel, browser-safe)' }] }] },
  },
  {
    files: ['clients/dashboard/src/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', { paths: [MODULE_REF], patterns: [MODULE_REF_DEEP, { regex: '^(?:\\.\\./)+src/', caseSensitive: true, message: 'the dashboard reaches the server through the SDK (clients/sdk/src)' }] }] },
  },
  // One file creates ONNX Runtime sessions; outside src/inference ORT is not reachable by import(), require() or import types.
  { files: ['src/**/*.ts'], ignores: ['src/inference/**'], rules: { 'no-restricted-syntax': ['error', ...SESSION_CREATE, ...DYNAMIC_ORT] } },
  { files: ['src/inference/**/*.ts'], ignores: ['src/inference/ort.sessions.ts'], rules: { 'no-restricted-syntax': ['error', ...SESSION_CREATE] } },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'clients/**/dist/**', 'coverage/**', 'data/**', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
    },
  },
  ...layering,
  ...tiers, // unit specs do no I/O (eslint.tiers.mjs)
);
