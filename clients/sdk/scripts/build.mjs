/* global console, process -- a Node script */
// Builds the installable package into dist/: bundled ESM (rxjs stays a dependency) and zod-free type declarations.
// Why a bundle and generated declarations rather than plain `tsc`: the SDK shares the server's contract
// (src/contracts/, through its barrel index.ts), which sits outside this package and defines some types with zod. tsc
// would emit imports of ../../../src/… that a tarball does not contain, and declarations that need zod. See README.md.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { build } from 'vite';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(pkg, '../..');
const dist = join(pkg, 'dist');
const contractsIndex = join(repo, 'src/contracts/index.ts');
const entries = { index: join(pkg, 'src/index.ts'), 'browser-camera': join(pkg, 'src/browser-camera.ts') };

rmSync(dist, { recursive: true, force: true });

// ---- JavaScript: one ESM bundle per entry. The contracts' runtime values (error codes, close codes, preview
// encoding) are inlined; their zod schemas are unused by the SDK and dropped (`z…` calls are pure, and an external
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

// ---- Declarations: tsc emits the SDK's own .d.ts files; imports of the server's contracts are pointed at one
// protocol.d.ts generated here from every file the barrel re-exports, where the zod-inferred types are written out
// structurally.
const config = ts.getParsedCommandLineOfConfigFile(join(pkg, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
if (config.errors.length) fail(config.errors);
const program = ts.createProgram(config.fileNames, config.options);
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length) fail(diagnostics);
const sdkOut = join(config.options.outDir,  relative(repo, join(pkg, 'src')));
const PROTOCOL_IMPORT = /(['"])(?:\.\.\/)+src\/contracts(?:\/index)?(?:\.js)?\1/g;
const contractsOut = join(config.options.outDir, 'src/contracts');
const contractDecls = new Map(); // contracts file (no extension) -> its tsc declarations, for classes
let emitted = 0;
program.emit(undefined, (file, text) => {
  if (file.startsWith(contractsOut)) contractDecls.set(join(repo, 'src/contracts', relative(contractsOut, file)).replace(/\.d\.ts$/, ''), text);
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

/**
 * The contracts the barrel re-exports, as one declaration file without zod: schema constants are left out,
 * zod-inferred types are expanded, imports between contracts files are dropped (every name lands in this one file).
 */
function protocolDeclarations(program) {
  const index = program.getSourceFile(contractsIndex);
  if (!index) throw new Error(`${contractsIndex} is not part of the SDK's program`);
  const files = index.statements.map((st) => {
    if (!ts.isExportDeclaration(st) || st.exportClause || !ts.isStringLiteral(st.moduleSpecifier)) throw new Error(`contracts/index.ts: only \`export * from './file'\` is supported`);
    return join(dirname(contractsIndex), st.moduleSpecifier.text);
  });
  const out = [`// Generated from the server's src/contracts/ by clients/sdk/scripts/build.mjs. Do not edit.\n`];
  const names = new Set();
  for (const file of files) {
    out.push(`// ---- ${relative(repo, file)}.ts\n`);
    for (const [name, text] of fileDeclarations(program, program.getSourceFile(`${file}.ts`), contractDecls.get(file))) {
      if (names.has(name)) throw new Error(`contracts: ${name} is exported twice`);
      names.add(name);
      out.push(text);
    }
  }
  const text = out.join('\n');
  if (/\bzod\b|\bz\./.test(text.replace(/^\/\/.*$/gm, ''))) throw new Error('protocol.d.ts still mentions zod');
  return text;
}

/** One contracts file's exported declarations as [name, text] pairs. */
function fileDeclarations(program, source, emittedDecl) {
  if (!source) throw new Error('a contracts file is missing from the SDK program');
  const checker = program.getTypeChecker();
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;
  const usesZod = (node) => /\bz\s*\.|Schema\b/.test(node.getText(source)); // `z\n  .object(…)` too
  const comment = (node) => {
    // a comment at the very top is the file's header, not this declaration's
    const ranges = (ts.getLeadingCommentRanges(source.text, node.pos) ?? []).filter((r) => r.pos > 0);
    return ranges.map((r) => source.text.slice(r.pos, r.end) + '\n').join('');
  };
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const out = [];
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      if (ts.isTypeAliasDeclaration(node) && usesZod(node.type)) {
        const type = checker.getTypeAtLocation(node.name);
        const params = node.typeParameters ? `<${node.typeParameters.map((p) => p.getText(source)).join(', ')}>` : '';
        out.push([node.name.text, `${comment(node)}export type ${node.name.text}${params} = ${checker.typeToString(type, node, flags)};\n`]);
      } else {
        out.push([node.name.text, `${comment(node)}${node.getText(source)}\n`]);
      }
    } else if (ts.isVariableStatement(node)) {
      for (const decl of node.declarationList.declarations) {
        if (decl.initializer && usesZod(decl.initializer)) continue; // a schema (or derived from one): server-side
        const type = checker.getTypeAtLocation(decl.name);
        out.push([decl.name.getText(source), `${comment(node)}export declare const ${decl.name.getText(source)}: ${checker.typeToString(type, decl, flags)};\n`]);
      }
    } else if (ts.isFunctionDeclaration(node) && node.name) {
      const sig = checker.getSignatureFromDeclaration(node);
      out.push([node.name.text, `${comment(node)}export declare function ${node.name.text}${checker.signatureToString(sig, node, flags)};\n`]);
    } else if (ts.isClassDeclaration(node) && node.name) {
      // a class's declaration is what tsc emitted for it (these classes use no zod)
      const decl = emittedDecl && ts.createSourceFile('decl.d.ts', emittedDecl, ts.ScriptTarget.Latest, true);
      const cls = decl?.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === node.name.text);
      if (!cls) throw new Error(`no declaration emitted for class ${node.name.text}`);
      out.push([node.name.text, `${comment(node)}${cls.getText(decl)}\n`]);
    } else if (!ts.isImportDeclaration(node)) {
      throw new Error(`${relative(repo, source.fileName)}: unsupported exported declaration ${ts.SyntaxKind[node.kind]}`);
    }
  }
  return out;
}

function fail(diagnostics) {
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repo, getNewLine: () => '\n' }));
  process.exit(1);
}
