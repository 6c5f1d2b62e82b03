// Instructions per request: the same servers as the HTTP benchmark, run under
// valgrind's callgrind, which counts the user-space instructions the server
// executes. Unlike req/s, the count does not depend on what else the machine is
// doing (repeatable to about 1 %), so it resolves differences of a few percent
// that the shared machine's noise hides. It leaves out the kernel's share of a
// request (socket reads and writes), so its ratios overstate what req/s shows.
//
//   pnpm bench:instructions        every framework, variant and method on the
//                                  machine's Node, 24 and 26 (hours: see README)
//   BENCH_NODE=24 BENCH_FRAMEWORKS=fastify BENCH_VARIANTS=bare,als,contextvars \
//     BENCH_METHOD=GET pnpm bench:instructions
//   BENCH_WARMUP=0,1000,2000,5000,10000,20000 ...   the warm-up curve
//
// Every setting is an environment variable or the same name as a flag
// (`--node=24 --frameworks=fastify --warmup=0,1000`):
//   BENCH_NODE        majors or exact versions, `current` for this Node; missing
//                     binaries are fetched (node-versions.ts). Default current,24,26
//   BENCH_FRAMEWORKS  default fastify,express,koa,hono,nestjs
//   BENCH_VARIANTS    default every variant of each framework (http-server.mjs)
//   BENCH_METHOD      default GET,POST
//   BENCH_WARMUP      requests before counting; a list gives the warm-up curve
//   BENCH_REQUESTS    requests counted per point; default 20000, or 1000 for a curve
//   BENCH_JOBS        servers measured at once; default 1
//
// Needs valgrind (Debian package `valgrind`); without it, says so and exits 1. Not
// part of CI: one full matrix takes hours.
import { countServer, requireValgrind } from './callgrind.js';
import { type NodeBinary, nodeBinaries } from './node-versions.js';
import { setting } from './settings.js';

const list = (value: string | undefined, fallback: string) =>
  (value || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Cumulative warm-up points: the count after each is measured in the same process. */
const POINTS = list(setting('warmup'), '20000').map(Number);
if (POINTS.some((p, i) => !Number.isInteger(p) || p < 0 || (i > 0 && p <= POINTS[i - 1]!))) {
  console.error('BENCH_WARMUP: one number or an increasing list (0,1000,2000,5000,10000,20000)');
  process.exit(2);
}
const CURVE = POINTS.length > 1;
// 20,000 for the steady state, where fewer lets rare work (GC) weigh at random; a
// curve's window is short so that its points stay distinct.
const REQUESTS = Number(setting('requests') ?? (CURVE ? 1_000 : 20_000));
const FRAMEWORKS = list(setting('frameworks'), 'fastify,express,koa,hono,nestjs');
const METHODS = list(setting('method'), 'GET,POST');
const WANTED = setting('variants') ? list(setting('variants'), '') : undefined;
// Servers measured at once. Callgrind counts one process's instructions whatever
// else runs, so 2 on 2 cores roughly halves the time; the load generator then
// shares the cores, which only slows the runs down.
const JOBS = Math.max(1, Number(setting('jobs') ?? 1));

requireValgrind('bench:instructions');
const NODES = nodeBinaries('current,24,26', setting('node'));

/**
 * Instructions the server executes per request over REQUESTS requests after each
 * warm-up point, all in one server process: the curve of one process warming up.
 */
const count = (node: NodeBinary, framework: string, variant: string, method: string) =>
  countServer({ node, framework, variant, method, points: POINTS, requests: REQUESTS });

const { VARIANTS } = (await import('./http-server.mjs')) as unknown as {
  VARIANTS: Record<string, string[]>;
};
for (const framework of FRAMEWORKS) {
  if (!VARIANTS[framework]) {
    console.error(`unknown framework ${framework}; known: ${Object.keys(VARIANTS).join(', ')}`);
    process.exit(2);
  }
}

const isOurs = (v: string) =>
  v === 'contextvars' ||
  v === 'contextvars-no-echo' ||
  v === 'otel-contextvars' ||
  v === 'otel-auto-contextvars' ||
  v.startsWith('contextvars-like-');
/** The variant of ours each row is compared with: OpenTelemetry stacks with each other. */
const oursFor = (v: string) =>
  v.startsWith('otel-auto-')
    ? 'otel-auto-contextvars'
    : v.startsWith('otel-')
      ? 'otel-contextvars'
      : 'contextvars';
/** `als-id` is a baseline too: raw ALS doing our default's id work (http-server.mjs). */
const isPeer = (v: string) => v !== 'bare' && v !== 'als' && v !== 'als-id' && !isOurs(v);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? '' : (a / b).toFixed(3);
/** The point from which a curve stays within 5 % of its last value. */
const steadyFrom = (curve: number[]) => {
  const last = curve[curve.length - 1]!;
  let from = curve.length - 1;
  while (from > 0 && Math.abs(curve[from - 1]! / last - 1) <= 0.05) from--;
  return POINTS[from]!;
};

interface Group {
  node: NodeBinary;
  framework: string;
  method: string;
  variants: string[];
  curves: Record<string, number[] | Error>;
}
const groups: Group[] = [];
const tasks: [Group, string][] = [];
for (const node of NODES) {
  for (const framework of FRAMEWORKS) {
    const variants = VARIANTS[framework]!.filter((v) => WANTED === undefined || WANTED.includes(v));
    if (variants.length === 0) continue;
    for (const method of METHODS) {
      const group: Group = { node, framework, method, variants, curves: {} };
      groups.push(group);
      for (const variant of variants) tasks.push([group, variant]);
    }
  }
}
const started = Date.now();
let failed = 0;
let done = 0;
async function worker(): Promise<void> {
  for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) {
    const [{ node, framework, method, curves }, variant] = task;
    const t0 = Date.now();
    const name = `Node ${node.version} ${framework} ${method} ${variant}`;
    try {
      const curve = await count(node, framework, variant, method);
      curves[variant] = curve;
      console.error(
        `[${++done}] ${name}: ${curve.map(fmt).join(' → ')} instructions/request (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    } catch (err) {
      failed++;
      curves[variant] = err as Error;
      console.error(`[${++done}] ${name}: FAILED`, err);
    }
  }
}
console.error(`${tasks.length} servers to measure, ${JOBS} at a time`);
await Promise.all(Array.from({ length: JOBS }, worker));

const last = (g: Group, v: string): number | undefined => {
  const c = g.curves[v];
  return Array.isArray(c) ? c[c.length - 1] : undefined;
};
const at = (g: Group, v: string, i: number): number | undefined => {
  const c = g.curves[v];
  return Array.isArray(c) ? c[i] : undefined;
};
const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');

/**
 * What each row is held to (issue 16): ours within 1.05× raw ALS; ours, and ours
 * configured like the peer, no more than each peer.
 */
function targets(g: Group, v: string): string {
  const n = last(g, v);
  if (n === undefined) return '';
  const out: string[] = [];
  if (v === 'contextvars' || v === 'contextvars-no-echo') {
    const als = last(g, 'als');
    if (als !== undefined) out.push(`≤ 1.05 × als ${mark(n <= 1.05 * als)}`);
  }
  if (isPeer(v)) {
    const ours = last(g, oursFor(v));
    if (ours !== undefined) out.push(`ours ≤ this ${mark(ours <= n)}`);
    const like = last(g, `contextvars-like-${v}`);
    if (like !== undefined) out.push(`like < this ${mark(like < n)}`);
  }
  return out.join(', ');
}

const warmupText = `${fmt(POINTS[POINTS.length - 1]!)} requests of warm-up`;
console.log(
  `\ncallgrind, one V8 thread; ${warmupText} then ${fmt(REQUESTS)} counted, 10 connections; ${((Date.now() - started) / 60000).toFixed(0)} min\n`,
);
for (const node of NODES) {
  console.log(`\n### Node ${node.version}\n`);
  console.log(
    '| node | framework | method | variant | instructions/request | × bare | × als | ours ÷ this | like ÷ this | target |',
  );
  console.log('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const g of groups.filter((x) => x.node === node)) {
    for (const v of g.variants) {
      const n = last(g, v);
      const cells = [
        `v${node.version}`,
        g.framework,
        g.method,
        v,
        n === undefined ? 'failed' : fmt(n),
        ratio(n, last(g, 'bare')),
        ratio(n, last(g, 'als')),
        isOurs(v) ? '' : ratio(last(g, oursFor(v)), n),
        ratio(last(g, `contextvars-like-${v}`), n),
        targets(g, v),
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  }
}

if (CURVE) {
  const heads = POINTS.map((p) => `after ${fmt(p)}`);
  console.log(
    `\n### Warm-up curve: instructions per request over ${fmt(REQUESTS)} requests after each amount of warm-up (one process per variant)\n`,
  );
  console.log(`| node | framework | method | variant | ${heads.join(' | ')} | steady from |`);
  console.log(`| --- | --- | --- | --- | ${heads.map(() => '---:').join(' | ')} | ---: |`);
  for (const g of groups) {
    for (const v of g.variants) {
      const c = g.curves[v];
      const cells = Array.isArray(c)
        ? [...c.map(fmt), fmt(steadyFrom(c))]
        : [...heads.map(() => ''), ''];
      console.log(
        `| v${g.node.version} | ${g.framework} | ${g.method} | ${v} | ${cells.join(' | ')} |`,
      );
    }
  }
  console.log(
    '\nOurs divided by the others at each point (the targets: ≤ 1.05 against `als`, ≤ 1 against a peer; `like` rows: ours configured like that peer)\n',
  );
  console.log(`| node | framework | method | ratio | ${heads.join(' | ')} |`);
  console.log(`| --- | --- | --- | --- | ${heads.map(() => '---:').join(' | ')} |`);
  for (const g of groups) {
    for (const v of g.variants) {
      const pairs: [string, string][] = [];
      if (v === 'als' || isPeer(v)) pairs.push([oursFor(v), v]);
      if (g.variants.includes(`contextvars-like-${v}`)) pairs.push([`contextvars-like-${v}`, v]);
      for (const [a, b] of pairs) {
        if (!g.variants.includes(a)) continue;
        const cells = POINTS.map((_, i) => ratio(at(g, a, i), at(g, b, i)));
        console.log(
          `| v${g.node.version} | ${g.framework} | ${g.method} | ${a} ÷ ${b} | ${cells.join(' | ')} |`,
        );
      }
    }
  }
}
process.exitCode = failed > 0 ? 1 : 0;
