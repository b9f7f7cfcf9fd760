/* global console, process -- a Node script */
// Builds the installable package into dist/: bundled ESM (rxjs stays a dependency) and zod-free type declarations.
// Why a bundle and generated declarations rather than plain `tsc`: the SDK shares the server's contract
// (src/delivery/protocol.ts), which sits outside this package and defines its types with zod. tsc would emit
// imports of ../../../src/… that a tarball does not contain, and declarations that need zod. See README.md.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { build } from 'vite';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(pkg, '../..');
const dist = join(pkg, 'dist');
const protocolFile = join(repo, 'src/delivery/protocol.ts');
const entries = { index: join(pkg, 'src/index.ts'), 'browser-camera': join(pkg, 'src/browser-camera.ts') };

rmSync(dist, { recursive: true, force: true });

// ---- JavaScript: one ESM bundle per entry. protocol.ts's runtime values (error codes, close codes, preview
// encoding) are inlined; its zod schemas are unused by the SDK and dropped (`z…` calls are pure, and an external
// module nothing is imported from has no side effects), so neither zod nor any server code is in the output.
await build({
  configFile: false,
  logLevel: 'warn',
  build: {
    outDir: dist,
    emptyOutDir: false,
    minify: false,
    sourcemap: true,
    target: 'es2022',
    lib: { entry: entries, formats: ['es'], fileName: (_format, name) => `${name}.js` },
    rollupOptions: {
      external: [/^rxjs(\/|$)/, /^zod(\/|$)/],
      treeshake: { manualPureFunctions: ['z'], moduleSideEffects: (_id, external) => !external },
    },
  },
});

// ---- Declarations: tsc emits the SDK's own .d.ts files; imports of the server's protocol.ts are pointed at a
// protocol.d.ts generated here, where the zod-inferred types are written out structurally.
const config = ts.getParsedCommandLineOfConfigFile(join(pkg, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
if (config.errors.length) fail(config.errors);
const program = ts.createProgram(config.fileNames, config.options);
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length) fail(diagnostics);
const sdkOut = join(config.options.outDir,  relative(repo, join(pkg, 'src')));
const PROTOCOL_IMPORT = /(['"])(?:\.\.\/)+src\/delivery\/protocol(?:\.js)?\1/g;
let emitted = 0;
program.emit(undefined, (file, text) => {
  if (!file.startsWith(sdkOut)) return; // protocol.d.ts is generated below
  const out = join(dist, relative(sdkOut, file));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text.replace(PROTOCOL_IMPORT, "'./protocol.js'").replace(/from '(\.\/[\w-]+)'/g, "from '$1.js'"));
  emitted++;
});
if (emitted === 0) throw new Error('no declarations emitted');
writeFileSync(join(dist, 'protocol.d.ts'), protocolDeclarations(program));

// ---- The example, runnable from the installed package: the in-repo import of ../src becomes the package's name
// (Node resolves a package's own name through its "exports").
const example = ts.transpileModule(readFileSync(join(pkg, 'examples/print-expressions.ts'), 'utf8'), {
  compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
});
const exampleJs = example.outputText.replace(/from '\.\.\/src(?:\/index)?'/, `from '${JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).name}'`);
if (exampleJs.includes("'../src")) throw new Error('example still imports ../src');
mkdirSync(join(dist, 'examples'), { recursive: true });
writeFileSync(join(dist, 'examples', 'print-expressions.mjs'), exampleJs);
console.log(`sdk: built ${relative(process.cwd(), dist) || 'dist'} (${Object.keys(entries).join(', ')} + ${emitted + 1} declaration files)`);

/** protocol.ts as declarations without zod: schema constants are left out, zod-inferred types are expanded. */
function protocolDeclarations(program) {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(protocolFile);
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;
  const usesZod = (node) => /\bz\.|Schema\b/.test(node.getText(source));
  const comment = (node) => {
    const ranges = ts.getLeadingCommentRanges(source.text, node.pos) ?? [];
    return ranges.map((r) => source.text.slice(r.pos, r.end) + '\n').join('');
  };
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const out = [`// Generated from the server's src/delivery/protocol.ts by clients/sdk/scripts/build.mjs. Do not edit.\n`];
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      if (ts.isTypeAliasDeclaration(node) && usesZod(node.type)) {
        const type = checker.getTypeAtLocation(node.name);
        const params = node.typeParameters ? `<${node.typeParameters.map((p) => p.getText(source)).join(', ')}>` : '';
        out.push(`${comment(node)}export type ${node.name.text}${params} = ${checker.typeToString(type, node, flags)};\n`);
      } else {
        out.push(`${comment(node)}${node.getText(source)}\n`);
      }
    } else if (ts.isVariableStatement(node)) {
      for (const decl of node.declarationList.declarations) {
        if (decl.initializer && usesZod(decl.initializer)) continue; // a schema (or derived from one): server-side
        const type = checker.getTypeAtLocation(decl.name);
        out.push(`${comment(node)}export declare const ${decl.name.getText(source)}: ${checker.typeToString(type, decl, flags)};\n`);
      }
    } else if (ts.isFunctionDeclaration(node) && node.name) {
      const sig = checker.getSignatureFromDeclaration(node);
      out.push(`${comment(node)}export declare function ${node.name.text}${checker.signatureToString(sig, node, flags)};\n`);
    }
  }
  const text = out.join('\n');
  if (/\bzod\b|\bz\./.test(text.replace(/^\/\/.*$/gm, ''))) throw new Error('protocol.d.ts still mentions zod');
  return text;
}

function fail(diagnostics) {
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repo, getNewLine: () => '\n' }));
  process.exit(1);
}
