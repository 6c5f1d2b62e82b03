/**
 * `pnpm check:docs`: every ```ts block of the Markdown docs compiles against the
 * packages' sources, the blocks marked runnable run, and each package README names
 * every export of its package.
 *
 * Conventions for authors (HTML comments, invisible on GitHub and npm):
 *
 * - Each ```ts block is an ES module of its own (top-level `await` allowed), checked
 *   with the root tsconfig's options. `@contextvars/*` resolve to the sources; other
 *   imports resolve as from any workspace package that depends on them.
 * - Names a fragment uses without defining (your `app`, your `authenticate`) come
 *   from the file's prelude: ambient declarations, visible to every block of that
 *   file, that a block's own imports and declarations shadow.
 *
 *       <!-- check-docs: prelude
 *       declare const app: import('express').Express;
 *       declare function authenticate(header: string | undefined): Promise<string>;
 *       -->
 *
 * - `<!-- check-docs: run -->` just before a block: the block is a complete program;
 *   it is also run (with tsx, against the built packages) and must exit 0 within 20 s.
 *
 *   tsx scripts/check-docs.ts [file.md ...]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Block {
  /** 1-based line of the first line of code in the Markdown file. */
  line: number;
  code: string;
  run: boolean;
}

interface Doc {
  file: string;
  prelude: string;
  /** Markdown line of each line of the prelude. */
  preludeLines: number[];
  blocks: Block[];
}

function markdownFiles(): string[] {
  const listed = process.argv.slice(2);
  if (listed.length > 0) return listed.map((f) => resolve(f));
  const inDir = (dir: string) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter((f) => f.endsWith('.md'))
          .map((f) => join(root, dir, f))
      : [];
  const readmes = (dir: string) =>
    readdirSync(join(root, dir))
      .map((d) => join(root, dir, d, 'README.md'))
      .filter(existsSync);
  return [
    join(root, 'README.md'),
    ...readmes('packages'),
    ...readmes('examples'),
    ...inDir('docs'),
    join(root, 'bench', 'README.md'),
  ].filter(existsSync);
}

function parse(file: string): Doc {
  const lines = readFileSync(file, 'utf8').split('\n');
  const doc: Doc = { file, prelude: '', preludeLines: [], blocks: [] };
  let runNext = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '<!-- check-docs: run -->') {
      runNext = true;
      continue;
    }
    if (line.trim() === '<!-- check-docs: prelude') {
      const end = lines.indexOf('-->', i);
      if (end === -1) throw new Error(`${file}:${i + 1}: unterminated check-docs prelude`);
      for (let j = i + 1; j < end; j++) {
        doc.prelude += `${lines[j]}\n`;
        doc.preludeLines.push(j + 1);
      }
      i = end;
      continue;
    }
    const fence = /^(\s*)```(\w+)?/.exec(line);
    if (!fence) {
      if (line.trim() !== '') runNext = false;
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    if (end === -1) throw new Error(`${file}:${i + 1}: unterminated code block`);
    if (fence[2] === 'ts' || fence[2] === 'typescript') {
      doc.blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n'), run: runNext });
    }
    runNext = false;
    i = end;
  }
  return doc;
}

// Blocks live in the e2e test package's node_modules: ignored by git, Biome and the
// root tsconfig, and its dependencies (the frameworks, pino) resolve from there.
const work = join(root, 'test', 'node_modules', '.cache', 'check-docs');
rmSync(work, { recursive: true, force: true });

const base = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
)!;
const options: ts.CompilerOptions = { ...base.options, noEmit: true, noUnusedLocals: false };

// Where an import that the block's own location cannot resolve is looked up next.
const fallbackDirs = ['packages', 'examples']
  .flatMap((dir) => readdirSync(join(root, dir)).map((d) => join(root, dir, d)))
  .concat([join(root, 'test'), join(root, 'bench')])
  .filter((dir) => existsSync(join(dir, 'package.json')));

const host = ts.createCompilerHost(options);
host.resolveModuleNameLiterals = (literals, containingFile, redirected, opts) =>
  literals.map((literal) => {
    const first = ts.resolveModuleName(
      literal.text,
      containingFile,
      opts,
      host,
      undefined,
      redirected,
    );
    if (first.resolvedModule || !containingFile.startsWith(work)) return first;
    for (const dir of fallbackDirs) {
      const next = ts.resolveModuleName(literal.text, join(dir, 'index.ts'), opts, host);
      if (next.resolvedModule) return next;
    }
    return first;
  });

interface Written {
  path: string;
  doc: Doc;
  block: Block | undefined; // undefined: the prelude
}

const docs = markdownFiles().map(parse);
const written = new Map<string, Written>();
let errors = 0;
let program: ts.Program | undefined;
let checked = 0;
const format: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => root,
  getNewLine: () => '\n',
};

for (const doc of docs) {
  const slug = relative(root, doc.file).replace(/[^\w.-]+/g, '_');
  const dir = join(work, slug);
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  if (doc.prelude) {
    // No import or export: a global script, so a block's own names shadow it.
    const path = join(dir, 'prelude.d.ts');
    writeFileSync(path, doc.prelude);
    written.set(path, { path, doc, block: undefined });
    names.push(path);
  }
  doc.blocks.forEach((block, i) => {
    // `export {}` makes a block without imports a module too.
    const path = join(dir, `block-${i + 1}.mts`);
    writeFileSync(path, `${block.code}\nexport {};\n`);
    written.set(path, { path, doc, block });
    names.push(path);
  });
  if (names.length === 0) continue;
  program = ts.createProgram({ rootNames: names, options, host, oldProgram: program });
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...names.flatMap((n) => {
      const sf = program!.getSourceFile(n)!;
      return [...program!.getSyntacticDiagnostics(sf), ...program!.getSemanticDiagnostics(sf)];
    }),
  ];
  checked += doc.blocks.length;
  for (const d of diagnostics) {
    errors += 1;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const w = d.file ? written.get(d.file.fileName) : undefined;
    if (d.file && d.start !== undefined && w) {
      const pos = d.file.getLineAndCharacterOfPosition(d.start);
      const line = w.block ? w.block.line + pos.line : w.doc.preludeLines[pos.line];
      console.error(
        `${relative(root, w.doc.file)}:${line}:${pos.character + 1} TS${d.code}: ${message}`,
      );
    } else {
      console.error(ts.formatDiagnostic(d, format).trim());
    }
  }
}

// Each package README names every export of its package (in backticks).
const packages = readdirSync(join(root, 'packages')).filter(
  (pkg) =>
    existsSync(join(root, 'packages', pkg, 'README.md')) &&
    existsSync(join(root, 'packages', pkg, 'src', 'index.ts')),
);
for (const pkg of packages) {
  const readme = join(root, 'packages', pkg, 'README.md');
  const entry = join(root, 'packages', pkg, 'src', 'index.ts');
  const p = ts.createProgram({ rootNames: [entry], options, host, oldProgram: program });
  program = p;
  const checker = p.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(p.getSourceFile(entry)!);
  if (!moduleSymbol) continue;
  const text = readFileSync(readme, 'utf8');
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const name = symbol.getName();
    if (name === 'default') continue;
    if (!new RegExp(`\`[^\`\\n]*\\b${name}\\b[^\`\\n]*\``).test(text)) {
      errors += 1;
      console.error(`packages/${pkg}/README.md: does not mention the export \`${name}\``);
    }
  }
}

// Runnable blocks, against the built packages (what a user installs).
let ran = 0;
for (const w of written.values()) {
  if (!w.block?.run) continue;
  ran += 1;
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [w.path], {
      cwd: dirname(w.path),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
  } catch (error) {
    errors += 1;
    const e = error as { stderr?: Buffer; message: string };
    const where = `${relative(root, w.doc.file)}:${w.block.line}`;
    console.error(`${where}: the runnable block failed\n${e.stderr?.toString() || e.message}`);
  }
}

console.log(
  `check-docs: ${checked} TypeScript blocks in ${docs.length} files type-checked, ${ran} run, ${errors} error(s)`,
);
process.exit(errors > 0 ? 1 : 0);
