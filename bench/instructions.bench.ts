// Instructions per request: the same servers as the HTTP benchmark, run under
// valgrind's callgrind, which counts the user-space instructions the server
// executes. Unlike req/s, the count does not depend on what else the machine is
// doing (repeatable to about 1 %), so it resolves differences of a few percent
// that the shared machine's noise hides. It leaves out the kernel's share of a
// request (socket reads and writes), so its ratios overstate what req/s shows.
//
//   pnpm bench:instructions                         Fastify GET, about 4 minutes
//   BENCH_FRAMEWORKS=express BENCH_VARIANTS=bare,contextvars pnpm bench:instructions
//
// Needs valgrind (Debian package `valgrind`); without it, says so and exits 1.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon } from './autocannon.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Enough warm-up for every hot function to reach optimized code before counting. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const FRAMEWORKS = (process.env.BENCH_FRAMEWORKS ?? 'fastify').split(',');
const METHOD = process.env.BENCH_METHOD ?? 'GET';
const DEFAULT_VARIANTS =
  'bare,als,contextvars,request-context,express-http-context,cls-rtracer,context-storage,nestjs-cls';

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench:instructions needs valgrind (apt-get install valgrind)');
  process.exit(1);
}

function load(port: number, requests: number): Promise<number> {
  return autocannon(port, METHOD, ['-c', '10', '-a', String(requests)]);
}

function control(pid: number, ...args: string[]): void {
  const result = spawnSync('callgrind_control', [...args, String(pid)]);
  if (result.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed`);
}

/** Instructions the server executes per request, after warm-up. */
async function count(framework: string, variant: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'contextvars-callgrind-'));
  // One V8 thread: background compilation and GC threads would add counts at random.
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--smc-check=all-non-file',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'out')}`,
      process.execPath,
      '--single-threaded',
      join(here, 'http-server.mjs'),
      framework,
      variant,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  try {
    let out = '';
    for await (const chunk of child.stdout!) {
      out += chunk;
      if (/PORT \d+/.test(out)) break;
    }
    const port = Number(/PORT (\d+)/.exec(out)?.[1]);
    if (!port) throw new Error(`${framework} ${variant} did not start`);
    await load(port, WARMUP);
    control(child.pid!, '-z');
    control(child.pid!, '-i', 'on');
    await load(port, REQUESTS);
    control(child.pid!, '-d');
    const dump = readFileSync(join(dir, 'out.1'), 'utf8');
    const totals = Number(/^totals:\s*(\d+)/m.exec(dump)?.[1]);
    return totals / REQUESTS;
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

const { VARIANTS } = (await import('./http-server.mjs')) as unknown as {
  VARIANTS: Record<string, string[]>;
};
const rows: string[] = [];
for (const framework of FRAMEWORKS) {
  const wanted = (process.env.BENCH_VARIANTS ?? DEFAULT_VARIANTS).split(',');
  const variants = VARIANTS[framework]!.filter((v) => wanted.includes(v));
  const counts: Record<string, number> = {};
  for (const variant of variants) {
    counts[variant] = await count(framework, variant);
    console.error(`${framework} ${METHOD} ${variant}: ${counts[variant]!.toFixed(0)} instructions`);
  }
  const bare = counts.bare;
  const ours = counts.contextvars;
  for (const variant of variants) {
    const n = counts[variant]!;
    const vsBare = bare === undefined ? '' : (n / bare).toFixed(3);
    // Read like the req/s table's last column: above 1, ours is the cheaper.
    const oursVs = ours === undefined || variant === 'contextvars' ? '' : (n / ours).toFixed(3);
    rows.push(
      `| ${framework} | ${METHOD} | ${variant} | ${n.toFixed(0)} | ${vsBare} | ${oursVs} |`,
    );
  }
}
console.log(
  `\nNode ${process.version}, callgrind, ${WARMUP} requests of warm-up then ${REQUESTS} counted, 10 connections\n`,
);
console.log('| framework | method | variant | instructions/request | × bare | this ÷ ours |');
console.log('| --- | --- | --- | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
