#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node and npm: installs the pinned
// pnpm, installs the workspace from the lockfile, and builds the packages. Then runs
// the command given after `--`.
//
//   node scripts/bootstrap.mjs -- vitest run
//   node scripts/bootstrap.mjs --pnpm-bin   # only prints the directory of the pinned pnpm
//
// The pnpm found on PATH is never used, whatever its version: a newer pnpm (11, 12)
// may switch itself to the pinned version for some commands and not for others, and
// treats words such as `docs` as its own commands instead of package scripts. So the
// pinned version is installed with npm into .ci/cache/pnpm (shared with .ci/run) and
// put first on PATH for everything started from here, nested `pnpm -r` calls included.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // "pnpm@x.y.z"
const pnpmVersion = pinned.split('@')[1];
const prefix = join(root, '.ci', 'cache', 'pnpm');
const binDir = join(prefix, 'node_modules', '.bin');
const quiet = process.env.CONTEXTVARS_BOOTSTRAP_QUIET === '1';

function run(cmd, args, env = process.env, stdio = 'inherit') {
  const result = spawnSync(cmd, args, { cwd: root, stdio, shell: false, env });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function installedVersion() {
  try {
    const manifest = join(prefix, 'node_modules', 'pnpm', 'package.json');
    return JSON.parse(readFileSync(manifest, 'utf8')).version;
  } catch {
    return undefined;
  }
}

function ensurePnpm() {
  if (installedVersion() === pnpmVersion) return;
  if (!quiet) console.error(`› installing pnpm ${pnpmVersion} into .ci/cache/pnpm`);
  // npm, not corepack: corepack's signature check fails against some registries.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error'];
  // npm's output goes to stderr: with --pnpm-bin, stdout carries only the path.
  run(npm, [...args, '--prefix', prefix, `pnpm@${pnpmVersion}`], process.env, [0, 2, 2]);
  if (installedVersion() !== pnpmVersion) {
    console.error(`could not install pnpm ${pnpmVersion}`);
    process.exit(1);
  }
}

const sep = process.argv.indexOf('--');
const own = sep === -1 ? process.argv.slice(2) : process.argv.slice(2, sep);
const rest = sep === -1 ? [] : process.argv.slice(sep + 1);

ensurePnpm();
if (own.includes('--pnpm-bin')) {
  console.log(binDir);
  process.exit(0);
}

const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` };
const pnpm = join(prefix, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
if (!quiet) console.error(`› installing the workspace with pnpm ${pnpmVersion}`);
run(process.execPath, [pnpm, 'install', '--frozen-lockfile', '--reporter=silent'], env);
if (!quiet) console.error('› building the packages');
run(process.execPath, [pnpm, '--silent', '-r', '--filter', './packages/**', 'run', 'build'], env);

if (rest.length > 0) {
  const bin = join(root, 'node_modules', '.bin', rest[0]);
  run(existsSync(bin) ? bin : rest[0], rest.slice(1), env);
}
