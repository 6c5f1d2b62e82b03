// Where a server's instructions go, per request and per function: callgrind's
// count for every machine instruction, resolved through V8's perf map to the
// JavaScript function (or builtin, or C++ function of the Node binary) that the
// instruction belongs to. Run for two variants, it shows what one costs over the
// other, function by function: how the per-request figures in README.md were
// taken apart, and how to check what a change to the per-request path buys.
//
//   pnpm bench:attribute fastify als contextvars     both, and the difference
//   pnpm bench:attribute koa contextvars             one variant
//
// Settings as bench:instructions (environment or flags): BENCH_NODE (one version,
// default 26), BENCH_METHOD (default GET), BENCH_WARMUP (default 20000),
// BENCH_REQUESTS (default 5000), and BENCH_TOP: rows to print (default 40).
// A function that V8 inlined is counted in the one it was inlined into.
import { countServer, requireValgrind } from './callgrind.js';
import { nodeBinaries } from './node-versions.js';
import { setting } from './settings.js';

const [framework, ...variants] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (framework === undefined || variants.length === 0 || variants.length > 2) {
  console.error('usage: pnpm bench:attribute <framework> <variant> [<variant to compare>]');
  process.exit(2);
}
requireValgrind('bench:attribute');
const [node] = nodeBinaries('26', setting('node'));
const method = setting('method') ?? 'GET';
const warmup = Number(setting('warmup') ?? 20_000);
const requests = Number(setting('requests') ?? 5_000);
const top = Number(setting('top') ?? 40);

/** The perf map: sorted [start, end, name] ranges of generated code. */
function parsePerfMap(text: string): [number, number, string][] {
  const ranges: [number, number, string][] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (match) {
      const start = Number.parseInt(match[1]!, 16);
      ranges.push([start, start + Number.parseInt(match[2]!, 16), match[3]!]);
    }
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

function lookup(ranges: [number, number, string][], address: number): string | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]![0] <= address) lo = mid + 1;
    else hi = mid - 1;
  }
  const range = ranges[hi];
  return range !== undefined && address < range[1] ? range[2] : undefined;
}

/**
 * Self instructions per function name. Callgrind names what it finds symbols for
 * (libc, the Node binary's C++ and builtins) and leaves V8's generated code as bare
 * addresses, which the perf map resolves. Format: callgrind's, with
 * `--dump-instr=yes` (positions `instr line`, compressed names and addresses).
 */
function selfCost(dump: string, ranges: [number, number, string][]): Map<string, number> {
  const names = new Map<string, string>();
  const name = (line: string, kind: string): string => {
    const match = /^\w+=\((\d+)\)(?: (.*))?$/.exec(line);
    if (!match) return line.slice(line.indexOf('=') + 1);
    if (match[2] !== undefined) names.set(kind + match[1], match[2]);
    return names.get(kind + match[1]) ?? '?';
  };
  const cost = new Map<string, number>();
  let object = '';
  let fn = '';
  let address = 0;
  let callCost = false;
  for (const line of dump.split('\n')) {
    if (line.startsWith('ob=')) object = name(line, 'ob');
    else if (line.startsWith('cob=')) name(line, 'ob');
    else if (line.startsWith('fn=')) fn = name(line, 'fn');
    else if (line.startsWith('cfn=')) name(line, 'fn');
    else if (line.startsWith('calls=')) callCost = true;
    else {
      const match = /^(0x[0-9a-f]+|[+-]\d+|\*)\s+\S+\s+(\d+)/.exec(line);
      if (!match) continue;
      const at = match[1]!;
      if (at.startsWith('0x')) address = Number.parseInt(at, 16);
      else if (at !== '*') address += Number(at);
      // The line after `calls=` is the callee's inclusive cost, not this function's.
      if (callCost) {
        callCost = false;
        continue;
      }
      const generated = object === '???' || fn.startsWith('0x');
      const key = generated
        ? (lookup(ranges, address) ?? 'unresolved generated code')
        : fn.replace('(anonymous namespace)', '{anonymous}').replace(/\(.*$/, '');
      cost.set(key, (cost.get(key) ?? 0) + Number(match[2]));
    }
  }
  return cost;
}

const shorten = (key: string) =>
  key
    .replace(/^JS:/, '')
    .replace(/(file:\/\/)?\/[^ ]*?\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/file:\/\/\/[^ ]*?\/(packages|bench)\//, '$1/');

const results: Map<string, number>[] = [];
for (const variant of variants) {
  let perFunction = new Map<string, number>();
  const [total] = await countServer(
    { node: node!, framework, variant, method, points: [warmup], requests },
    (dump, perfMap) => {
      perFunction = selfCost(dump, parsePerfMap(perfMap));
    },
  );
  for (const [key, value] of perFunction) perFunction.set(key, value / requests);
  results.push(perFunction);
  console.error(
    `${framework} ${variant}: ${Math.round(total!).toLocaleString('en-US')} instructions/request`,
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `\nNode ${node!.version}, ${framework} ${method}, ${fmt(warmup)} requests of warm-up, ${fmt(requests)} counted; instructions per request (self)\n`,
);
if (results.length === 1) {
  console.log('| function | instructions |\n| --- | ---: |');
  const rows = [...results[0]!].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, n] of rows) console.log(`| ${shorten(key)} | ${fmt(n)} |`);
} else {
  const [a, b] = results as [Map<string, number>, Map<string, number>];
  const keys = new Set([...a.keys(), ...b.keys()]);
  const rows = [...keys]
    .map((key) => [key, a.get(key) ?? 0, b.get(key) ?? 0] as const)
    .sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]))
    .slice(0, top);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n, 0);
  console.log(`| function | ${variants[0]} | ${variants[1]} | difference |`);
  console.log('| --- | ---: | ---: | ---: |');
  console.log(`| **all** | ${fmt(sum(a))} | ${fmt(sum(b))} | ${fmt(sum(b) - sum(a))} |`);
  for (const [key, x, y] of rows)
    console.log(`| ${shorten(key)} | ${fmt(x)} | ${fmt(y)} | ${fmt(y - x)} |`);
}
