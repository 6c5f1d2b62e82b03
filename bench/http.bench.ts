// HTTP overhead of the adapters: req/s of each framework bare, with its
// @contextvars adapter (setting 3 vars per request, reading them in the handler),
// with a raw AsyncLocalStorage middleware doing the same, and with the libraries
// people use today (@fastify/request-context, express-http-context, cls-rtracer,
// Hono's contextStorage()),
// for GET and for POST with a 1 KB JSON body. Load comes from autocannon in a
// separate process against 127.0.0.1; the server runs on core 0 and autocannon on
// core 1 (`taskset -c`) when `taskset` exists, so that neither steals the other's
// core. Bare and adapter runs alternate, and the claim is the ratio of medians
// measured in the same run.
//
//   pnpm bench:http                       3 runs of 8 s after a 2 s warm-up
//   BENCH_QUICK=1 pnpm bench:http         1 run of 2 s after 1 s
//   BENCH_FRAMEWORKS=fastify,koa ...     a subset (BENCH_VARIANTS likewise)
//   BENCH_NODE=24,26 ...                  the servers on other Node versions
//                                         (node-versions.ts; default: this Node)
//
// The like-for-like variants (`contextvars-like-<peer>`) and `contextvars-no-echo` are
// for the instruction counts; name them in BENCH_VARIANTS to measure their req/s too.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon } from './autocannon.js';
import { type NodeBinary, nodeBinaries } from './node-versions.js';

const here = dirname(fileURLToPath(import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 2 : 8));
const WARMUP = QUICK ? 1 : 2;
const CONNECTIONS = 50;
const FRAMEWORKS = (
  process.env.BENCH_FRAMEWORKS ?? 'fastify,fastify-vars,fastify-log,express,koa,hono,nestjs'
).split(',');
/** The cost of more vars per request, and of logging, are measured on GET only. */
const METHODS: Record<string, string[]> = { 'fastify-vars': ['GET'], 'fastify-log': ['GET'] };
let hasTaskset = false;
try {
  execFileSync('taskset', ['-c', '0', 'true']);
  hasTaskset = true;
} catch {}
if (!hasTaskset)
  console.error('taskset (util-linux) not found: server and load share whatever cores they get');
const pinned = (core: number, cmd: string, args: string[]): [string, string[]] =>
  hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
const NODES = nodeBinaries('current');

async function startServer(
  node: NodeBinary,
  framework: string,
  variant: string,
): Promise<{ child: ReturnType<typeof spawn>; port: number }> {
  const [cmd, args] = pinned(0, node.path, [join(here, 'http-server.mjs'), framework, variant]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = out.match(/PORT (\d+)/);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error(`${framework} ${variant} did not start`);
}

function load(port: number, method: string, seconds: number): Promise<number> {
  return autocannon(port, method, ['-c', String(CONNECTIONS), '-d', String(seconds)], (cmd, args) =>
    pinned(1, cmd, args),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(
  node: NodeBinary,
  framework: string,
  variant: string,
  method: string,
): Promise<number> {
  const { child, port } = await startServer(node, framework, variant);
  try {
    await load(port, method, WARMUP);
    return await load(port, method, DURATION);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const { VARIANTS, BASELINE } = (await import('./http-server.mjs')) as unknown as {
  VARIANTS: Record<string, string[]>;
  BASELINE: Record<string, string>;
};
const rows: string[][] = [];
for (const node of NODES)
  for (const framework of FRAMEWORKS) {
    const variants = (
      process.env.BENCH_VARIANTS?.split(',') ??
      VARIANTS[framework]!.filter(
        (v) => !v.startsWith('contextvars-like-') && v !== 'contextvars-no-echo',
      )
    ).filter((v) => VARIANTS[framework]!.includes(v));
    const baseline = BASELINE[framework] ?? 'bare';
    if (!variants.includes(baseline)) variants.unshift(baseline);
    for (const method of METHODS[framework] ?? ['GET', 'POST']) {
      const results: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
      for (let run = 0; run < RUNS; run++) {
        // Rotate the order from run to run so that drift favours no variant.
        const order = variants.map((_, i) => variants[(i + run) % variants.length]!);
        for (const variant of order)
          results[variant]!.push(await measure(node, framework, variant, method));
      }
      const bare = median(results[baseline]!)!;
      // Each variant is compared with ours of the same kind: the OpenTelemetry stacks
      // with each other, the many-vars variants with one var, the loggers with pinoMixin.
      const oursFor = (variant: string) => {
        const key = variant.startsWith('otel-auto-')
          ? 'otel-auto-contextvars'
          : variant.startsWith('otel-')
            ? 'otel-contextvars'
            : results.pinomixin
              ? 'pinomixin'
              : results.contextvars
                ? 'contextvars'
                : 'contextvars-1';
        return results[key] ? median(results[key]!)! : undefined;
      };
      const isOurs = (variant: string) =>
        variant === 'contextvars' ||
        variant === 'otel-auto-contextvars' ||
        variant.startsWith('contextvars-like-') ||
        variant === 'otel-contextvars' ||
        variant === 'pinomixin' ||
        variant.startsWith('contextvars-');
      for (const variant of variants) {
        const value = median(results[variant]!)!;
        const ours = oursFor(variant);
        rows.push([
          `v${node.version}`,
          framework,
          method,
          variant,
          value.toFixed(0),
          (value / bare).toFixed(3),
          isOurs(variant) || ours === undefined ? '' : (ours / value).toFixed(3),
        ]);
        console.error(
          `Node ${node.version} ${framework} ${method} ${variant}: ${value.toFixed(0)} req/s`,
        );
      }
    }
  }

console.log(
  `\nNode ${NODES.map((n) => n.version).join(', ')} (server; autocannon on ${process.version}), ${RUNS} run(s) of ${DURATION} s after ${WARMUP} s, ${CONNECTIONS} connections, ${hasTaskset ? 'server pinned to core 0 and autocannon to core 1 (taskset -c)' : 'not pinned (no taskset)'}\n`,
);
console.log('| node | framework | method | variant | req/s | × baseline | ours ÷ this |');
console.log('| --- | --- | --- | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
