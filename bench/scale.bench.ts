/**
 * A long run: 200,000 requests to Fastify with the adapter (3 vars per request),
 * and to bare Fastify as the control, in five legs of 40,000; after each leg the
 * server's heap after a full GC and the leg's req/s. Both must stay flat.
 *
 *   pnpm bench (as part of everything), or: tsx bench/scale.bench.ts
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const autocannon = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
const QUICK = process.env.BENCH_QUICK === '1';
const LEGS = 5;
const PER_LEG = QUICK ? 8_000 : 40_000;

async function run(variant: string): Promise<Array<{ rps: number; heapMb: number }>> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', join(here, 'http-server.mjs'), 'fastify', variant],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let port = 0;
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = /PORT (\d+)/.exec(out);
    if (m) {
      port = Number(m[1]);
      break;
    }
  }
  const legs: Array<{ rps: number; heapMb: number }> = [];
  try {
    for (let leg = 0; leg < LEGS; leg++) {
      const load = spawn(
        process.execPath,
        [autocannon, '-c', '50', '-a', String(PER_LEG), '-j', `http://127.0.0.1:${port}/`],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      let json = '';
      load.stdout!.on('data', (c: Buffer) => {
        json += c;
      });
      await once(load, 'close');
      const rps = JSON.parse(json).requests.average as number;
      const heap = (await (await fetch(`http://127.0.0.1:${port}/__heap`)).json()) as {
        heapUsed: number;
      };
      legs.push({ rps, heapMb: heap.heapUsed / 1024 / 1024 });
    }
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  return legs;
}

const bare = await run('bare');
const ours = await run('contextvars');
console.log(`Node ${process.version}; ${LEGS} legs of ${PER_LEG} requests, 50 connections\n`);
console.log(
  '| after requests | bare: heap MB | bare: req/s | contextvars: heap MB | contextvars: req/s |',
);
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (let i = 0; i < LEGS; i++) {
  console.log(
    `| ${(i + 1) * PER_LEG} | ${bare[i]!.heapMb.toFixed(1)} | ${bare[i]!.rps.toFixed(0)} | ${ours[i]!.heapMb.toFixed(1)} | ${ours[i]!.rps.toFixed(0)} |`,
  );
}
const growth = ours[LEGS - 1]!.heapMb - ours[1]!.heapMb;
const controlGrowth = bare[LEGS - 1]!.heapMb - bare[1]!.heapMb;
console.log(
  `\nheap growth after the first leg: contextvars ${growth.toFixed(1)} MB, bare ${controlGrowth.toFixed(1)} MB`,
);
