// One benchmark server (http-server.mjs) under valgrind's callgrind, loaded by
// autocannon: the driver that bench:instructions and bench:attribute share.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon } from './autocannon.js';
import type { NodeBinary } from './node-versions.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Exits with a message when valgrind is not installed. */
export function requireValgrind(script: string): void {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.error(`${script} needs valgrind (apt-get install valgrind)`);
    process.exit(1);
  }
}

/** Where V8 writes the perf map of process `pid` (a fixed place on Linux). */
const perfMap = (pid: number) => `/tmp/perf-${pid}.map`;

function control(pid: number, ...args: string[]): void {
  const result = spawnSync('callgrind_control', [...args, String(pid)]);
  if (result.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed`);
}

/** One server to measure, and where. */
export interface ServerRun {
  node: NodeBinary;
  framework: string;
  variant: string;
  method: string;
  /** Cumulative requests of warm-up before each counted window (increasing). */
  points: number[];
  /** Requests counted in each window. */
  requests: number;
}

/** Receives each counted window's callgrind dump and V8's perf map, while they exist. */
export type Inspect = (dump: string, perfMap: string) => void;

/**
 * Runs the server under callgrind, with one V8 thread (background compilation
 * and GC threads would add counts at random), and counts each window; all windows
 * in one process, so that a list of points is the curve of one process warming up.
 * With `inspect`, the run also keeps what resolving instructions to functions
 * needs: callgrind's count per machine instruction, and V8's perf map of the code
 * it generated (a little slower; the counts stay comparable with each other).
 */
export async function countServer(run: ServerRun, inspect?: Inspect): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'contextvars-callgrind-'));
  const valgrindFlags = ['--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no'];
  const nodeFlags = ['--single-threaded'];
  if (inspect) {
    valgrindFlags.push('--dump-instr=yes');
    // Code that moves would leave the perf map's addresses stale.
    nodeFlags.push('--perf-basic-prof', '--no-compact-code-space');
  }
  const child = spawn(
    'valgrind',
    [
      ...valgrindFlags,
      `--callgrind-out-file=${join(dir, 'out')}`,
      run.node.path,
      ...nodeFlags,
      join(here, 'http-server.mjs'),
      run.framework,
      run.variant,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c).slice(-4000);
  });
  const load = (requests: number) =>
    autocannon(port, run.method, ['-c', '10', '-t', '120', '-a', String(requests)]);
  let port = 0;
  try {
    let out = '';
    for await (const chunk of child.stdout!) {
      out += chunk;
      if (/PORT \d+/.test(out)) break;
    }
    port = Number(/PORT (\d+)/.exec(out)?.[1]);
    if (!port) throw new Error(`${run.framework} ${run.variant} did not start:\n${stderr}`);
    const perRequest: number[] = [];
    let sent = 0;
    for (const [i, point] of run.points.entries()) {
      if (point > sent) await load(point - sent);
      control(child.pid!, '-i', 'on');
      control(child.pid!, '-z');
      await load(run.requests);
      control(child.pid!, '-d');
      // Uncounted warm-up runs several times faster.
      control(child.pid!, '-i', 'off');
      sent = Math.max(point, sent) + run.requests;
      const file = join(dir, `out.${i + 1}`);
      if (!existsSync(file)) throw new Error(`callgrind wrote no ${file}`);
      const dump = readFileSync(file, 'utf8');
      const totals = Number(/^totals:\s*(\d+)/m.exec(dump)?.[1]);
      perRequest.push(totals / run.requests);
      if (inspect) inspect(dump, readFileSync(perfMap(child.pid!), 'utf8'));
    }
    return perRequest;
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
    if (inspect) rmSync(perfMap(child.pid!), { force: true });
  }
}
