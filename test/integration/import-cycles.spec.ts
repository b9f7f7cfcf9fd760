import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

/**
 * No import cycles, TypeScript or Python (docs/ARCHITECTURE.md, "Layers: what may import what"). The layering lint
 * forbids cycles between rooms; this test also catches cycles between files of one room, type-only imports included
 * (`ts.preProcessFile` lists `import type` and `export … from` too), and lazy imports inside Python functions.
 */
type Graph = Map<string, Set<string>>;

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.') || entry.name === '__pycache__') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, keep, out);
    else if (keep(entry.name)) out.push(path);
  }
  return out;
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

/** Relative imports of every .ts/.tsx file under `roots`, resolved as the bundler and tsc resolve them. */
function typescriptGraph(roots: string[]): Graph {
  const graph: Graph = new Map();
  for (const file of roots.flatMap((r) => walk(r, (n) => /\.(ts|tsx|mts)$/.test(n) && !n.endsWith('.d.ts')))) {
    const from = relative(ROOT, file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const base = resolve(dirname(file), fileName).replace(/\.(m?js|tsx?)$/, '');
      const target = [`${base}.ts`, `${base}.tsx`, `${base}.mts`, join(base, 'index.ts'), join(base, 'index.tsx')].find(isFile);
      if (target) edges.add(relative(ROOT, target));
    }
  }
  return graph;
}

/**
 * Imports between the Python files under scripts/, lazy ones inside functions included. Scripts put scripts/ on
 * sys.path, so `fer.data` is scripts/fer/data.py and `export` is scripts/export.py; a name that is not a file there
 * (numpy, torch, onnx, …) is a library.
 */
function pythonGraph(scriptsDir: string): Graph {
  const graph: Graph = new Map();
  const moduleFile = (name: string, fromDir: string): string | undefined => {
    for (const base of [scriptsDir, fromDir]) {
      const path = join(base, ...name.split('.'));
      const hit = [`${path}.py`, join(path, '__init__.py')].find(isFile);
      if (hit) return hit;
    }
    return undefined;
  };
  for (const file of walk(scriptsDir, (n) => n.endsWith('.py'))) {
    const from = relative(ROOT, file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*(?:from\s+([\w.]+)\s+import\s+([\w\s,()*]+)|import\s+([\w.,\s]+?)(?:\s+as\s+\w+)?\s*(?:#.*)?$)/.exec(line);
      if (!m) continue;
      const names = m[1]
        ? [m[1], ...m[2].replace(/#.*/, '').split(/[\s,()]+/).filter((n) => n && n !== '*' && n !== 'as').map((n) => `${m[1]}.${n}`)]
        : m[3].split(',').map((n) => n.trim().split(/\s+/)[0]);
      for (const name of names) {
        const target = moduleFile(name, dirname(file));
        if (target && target !== file) edges.add(relative(ROOT, target));
      }
    }
  }
  return graph;
}

describe('import cycles', () => {
  it('finds a cycle when there is one (the checker itself)', () => {
    const g: Graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set<string>()],
      ['e', new Set(['e'])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
  });

  it('has none between TypeScript files (src, test, scripts, clients), type-only imports included', () => {
    const graph = typescriptGraph(['src', 'test', 'scripts', 'clients'].map((d) => join(ROOT, d)));
    expect(graph.size).toBeGreaterThan(200);
    expect([...graph.values()].reduce((n, s) => n + s.size, 0)).toBeGreaterThan(500);
    expect(cycles(graph)).toEqual([]);
  });

  it('has none between the Python scripts, lazy imports included', () => {
    const graph = pythonGraph(join(ROOT, 'scripts'));
    expect(graph.get('scripts/export.py')).toContain('scripts/fer/data.py');
    expect(graph.get('scripts/fer/test_data.py')).toContain('scripts/fer/data.py');
    expect(cycles(graph)).toEqual([]);
  });
});
