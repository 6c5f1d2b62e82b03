/**
 * The layers, checked on the sources: core is PEP 567 and knows no HTTP; the
 * per-request engine's framework-neutral part needs no Node module; adapters never
 * import each other; packages depend on each other without cycles, and only on
 * what their package.json declares.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGES = join(import.meta.dirname, '..', 'packages');
const ADAPTERS = new Set(['fastify', 'express', 'koa', 'hono', 'nestjs']);

interface Pkg {
  dir: string;
  name: string;
  deps: Set<string>;
  /** Source file (relative to src/) → the modules it imports. */
  imports: Map<string, string[]>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts)$/.test(entry) ? [path] : [];
  });
}

// Static imports, re-exports and dynamic imports; comments are stripped first.
const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
}

const packages: Pkg[] = readdirSync(PACKAGES)
  .filter((dir) => statSync(join(PACKAGES, dir, 'src')).isDirectory())
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(join(PACKAGES, dir, 'package.json'), 'utf8'));
    const src = join(PACKAGES, dir, 'src');
    return {
      dir,
      name: manifest.name as string,
      deps: new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}),
      ]),
      imports: new Map(sourceFiles(src).map((f) => [f.slice(src.length + 1), importsOf(f)])),
    };
  });
const byDir = new Map(packages.map((p) => [p.dir, p]));

const workspaceImports = (p: Pkg) =>
  [...p.imports.values()].flat().filter((m) => m.startsWith('@contextvars/'));
const packageOf = (module: string) => module.split('/').slice(0, 2).join('/');

describe('layering', () => {
  it('finds the packages and their imports (the check itself sees what it checks)', () => {
    expect(byDir.get('core')?.imports.get('context.ts')).toContain('./hamt.js');
    expect(workspaceImports(byDir.get('express')!)).toContain('@contextvars/http/node');
  });

  it('core imports no HTTP module and no other package of ours', () => {
    const core = byDir.get('core')!;
    for (const [file, modules] of core.imports) {
      for (const m of modules) {
        expect(m, `core/src/${file}`).not.toMatch(/^(node:)?(http|https|http2|net)$/);
        expect(m, `core/src/${file}`).not.toMatch(/^@contextvars\//);
      }
    }
  });

  it("the engine's framework-neutral part imports no Node module", () => {
    const http = byDir.get('http')!;
    for (const [file, modules] of http.imports) {
      if (file === 'node.ts') continue;
      for (const m of modules) expect(m, `http/src/${file}`).not.toMatch(/^node:/);
    }
  });

  it('no adapter imports another adapter', () => {
    for (const p of packages.filter((pkg) => ADAPTERS.has(pkg.dir))) {
      for (const m of workspaceImports(p)) {
        const target = packageOf(m).slice('@contextvars/'.length);
        if (target !== p.dir) expect(ADAPTERS.has(target), `${p.name} imports ${m}`).toBe(false);
      }
    }
  });

  it('every package of ours a source imports is declared in its package.json', () => {
    for (const p of packages) {
      for (const m of workspaceImports(p)) {
        if (packageOf(m) !== p.name)
          expect(p.deps.has(packageOf(m)), `${p.name} → ${m}`).toBe(true);
      }
    }
  });

  it('no cycles between packages', () => {
    const names = new Map(packages.map((p) => [p.name, p]));
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      expect(state.get(name), `cycle: ${[...path, name].join(' → ')}`).not.toBe('visiting');
      state.set(name, 'visiting');
      for (const dep of names.get(name)?.deps ?? [])
        if (names.has(dep)) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    for (const p of packages) visit(p.name, []);
  });
});
