// `pnpm bench` (everything, under 15 minutes on 2 cores) and `pnpm bench:quick`
// (under 2 minutes, for checking a change): runs each benchmark as its own process
// and prints their markdown tables one after another.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const tsx = join(here, '..', 'node_modules', '.bin', 'tsx');
const env = { ...process.env, ...(quick ? { BENCH_QUICK: '1' } : {}) };

const runs = [
  ['Core', ['--expose-gc', join(here, 'core.bench.ts')], {}],
  ['OpenTelemetry context manager', [join(here, 'otel.bench.ts')], {}],
  ['pino log correlation', [join(here, 'pino.bench.ts')], {}],
  [
    'HTTP',
    [join(here, 'http.bench.ts')],
    quick
      ? {
          BENCH_VARIANTS: 'bare,contextvars,als',
          BENCH_FRAMEWORKS: 'fastify,express,koa,hono,nestjs',
        }
      : { BENCH_RUNS: '3', BENCH_DURATION: '4' },
  ],
  ['Scale: memory and throughput over a long run', [join(here, 'scale.bench.ts')], {}],
];

let failed = false;
const started = Date.now();
for (const [title, args, extra] of runs) {
  console.log(`\n## ${title}\n`);
  const result = spawnSync(tsx, args, {
    env: { ...env, ...extra },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) failed = true;
}
console.log(`\n(${quick ? 'quick' : 'full'} run, ${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exitCode = failed ? 1 : 0;
