#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node and npm: installs the pinned
// pnpm when it is missing (corepack is not relied on), installs the workspace from
// the lockfile, and builds the packages. Then runs the command given after `--`.
//
//   node scripts/bootstrap.mjs -- vitest run
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // "pnpm@x.y.z"
const pnpmVersion = pinned.split('@')[1];

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: false });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function pnpmCommand() {
  try {
    const version = execFileSync('pnpm', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (version === pnpmVersion) return ['pnpm', []];
  } catch {
    // not installed: fall through to npx
  }
  return ['npx', ['--yes', `pnpm@${pnpmVersion}`]];
}

const [pnpm, prefix] = pnpmCommand();
const quiet = process.env.CONTEXTVARS_BOOTSTRAP_QUIET === '1';
if (!quiet) console.error(`› installing the workspace with pnpm ${pnpmVersion}`);
run(pnpm, [...prefix, 'install', '--frozen-lockfile', '--reporter=silent']);
if (!quiet) console.error('› building the packages');
run(pnpm, [...prefix, '--silent', '-r', '--filter', './packages/**', 'run', 'build']);

const sep = process.argv.indexOf('--');
const rest = sep === -1 ? [] : process.argv.slice(sep + 1);
if (rest.length > 0) {
  const bin = join(root, 'node_modules', '.bin', rest[0]);
  run(existsSync(bin) ? bin : rest[0], rest.slice(1));
}
