/**
 * Rules over the source tree, read from src/ itself: no import cycle (type-only imports count too: they tie the modules'
 * meaning together), and nothing outside src/tools/ starts a process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve('src');

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of static imports, re-exports and dynamic import()s. */
function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [/^\s*(?:import|export)\s[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const p of patterns) for (const m of text.matchAll(p)) if (m[1] !== undefined) out.push(m[1]);
  return out;
}

function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const local = importSpecifiers(readFileSync(file, 'utf8'))
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
    edges.set(file, local);
  }
  return edges;
}

/** Every cycle's path (as src-relative names), found by depth-first search. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(SRC, f)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('the import graph of src/', () => {
  it('reads every import form', () => {
    const text = "import a from './a.js';\nimport type { B } from '../b.js';\nexport { c } from './c.js';\nimport './d.js';\nconst e = await import('./e.js');\n";
    expect(importSpecifiers(text)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  it('finds a cycle when there is one', () => {
    const a = join(SRC, 'a.ts');
    const b = join(SRC, 'b.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });

  it('has no cycle', () => {
    const edges = graph();
    expect(edges.size).toBeGreaterThan(50);
    for (const targets of edges.values()) for (const t of targets) expect(edges.has(t), `${t} is imported but not in src/`).toBe(true);
    expect(cycles(edges)).toEqual([]);
  });
});

/** What starts a process: the child_process module, execa, or the runners of tools/process.ts. */
const SPAWNING = [
  { what: 'node:child_process', pattern: /from\s+['"](?:node:)?child_process['"]|import\(\s*['"](?:node:)?child_process['"]\s*\)|require\(\s*['"](?:node:)?child_process['"]\s*\)/ },
  { what: 'execa', pattern: /from\s+['"]execa['"]|import\(\s*['"]execa['"]\s*\)/ },
  { what: 'run/runBinary of tools/process', pattern: /import\s*\{[^}]*\b(?:run|runBinary)\b[^}]*\}\s*from\s+['"][^'"]*tools\/process\.js['"]/ },
  { what: 'process spawning globals', pattern: /\bprocess\.binding\(|\bBun\.spawn\b/ },
];

describe('starting processes', () => {
  it('recognises each spawning import', () => {
    const samples = ["import { spawn } from 'node:child_process';", "import { execa } from 'execa';", "import { run, shellQuote } from '../tools/process.js';"];
    for (const [i, sample] of samples.entries()) expect(SPAWNING[i]?.pattern.test(sample)).toBe(true);
    expect(SPAWNING.some((s) => s.pattern.test("import { shellQuote } from '../tools/process.js';"))).toBe(false);
  });

  it('happens only in src/tools/', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles()) {
      const rel = relative(SRC, file);
      if (rel.startsWith('tools/')) continue;
      const text = readFileSync(file, 'utf8');
      for (const s of SPAWNING) if (s.pattern.test(text)) offenders.push(`${rel}: ${s.what}`);
    }
    expect(offenders).toEqual([]);
  });
});
