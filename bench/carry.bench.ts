/**
 * The cost of carrying a context with a job: `inject` where the job is made plus
 * `run` where it is processed, per job, against the hand-off people write by hand
 * with a raw AsyncLocalStorage (read the store, serialize a few fields, parse them,
 * `als.run` the handler). Both carry the same values (a tenant, a user object, the
 * request id) and both read them back in the handler. Not part of CI.
 *
 *   pnpm bench:carry      (or: npx tsx bench/carry.bench.ts)
 *   BENCH_QUICK=1 ...     shorter runs, for checking a change
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context, ContextVar, requestId } from '@contextvars/core';
import { do_not_optimize, measure } from 'mitata';
import { defineCarrier } from '../packages/carry/src/index.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const opts = { min_cpu_time: (QUICK ? 50 : 300) * 1e6 } as const;

async function ns(fn: () => unknown): Promise<number> {
  return (await measure(fn, opts)).p50;
}

/** Candidates measured in turns (A B A B …), median of rounds 1–3: drift hits both alike. */
async function alternate(...fns: Array<() => Promise<number>>): Promise<number[]> {
  const samples = fns.map(() => [] as number[]);
  for (let round = 0; round < 4; round++) {
    for (const [i, fn] of fns.entries()) {
      const value = await fn();
      if (round > 0) samples[i]!.push(value);
    }
  }
  return samples.map((xs) => [...xs].sort((a, b) => a - b)[1]!);
}

interface User {
  id: number;
  roles: string[];
}
const USER: User = { id: 42, roles: ['admin', 'billing'] };

// The hand-rolled baseline: one store per request, three fields handed over.
interface Store {
  tenant: string;
  user: User;
  requestId: string;
}
const als = new AsyncLocalStorage<Store>();
const alsHandler = () => {
  const s = als.getStore()!;
  return s.tenant.length + s.user.id + s.requestId.length;
};

// Ours: the same three values, declared.
const tenant = new ContextVar<string>('tenant');
const user = new ContextVar<User>('user');
const carrier = defineCarrier({
  vars: { tenant: { var: tenant, codec: 'string' }, user: { var: user, codec: 'json' } },
});
const carryHandler = () => tenant.get().length + user.get().id + requestId.get().length;

const request = new Context();
request.run(() => {
  tenant.set('acme');
  user.set(USER);
  requestId.set('3f2b8c1e-8d6a-4c1f-9a57-2f4e5b6c7d8e');
});
const store: Store = {
  tenant: 'acme',
  user: USER,
  requestId: '3f2b8c1e-8d6a-4c1f-9a57-2f4e5b6c7d8e',
};

const rows: Array<[string, number, number]> = [];

// 1. As a job queue stores it: JSON text in, JSON text out.
{
  const [raw, ours] = await alternate(
    () =>
      als.run(store, () =>
        ns(() => {
          const s = als.getStore()!;
          const text = JSON.stringify({ tenant: s.tenant, user: s.user, requestId: s.requestId });
          const data = JSON.parse(text) as Store;
          return do_not_optimize(als.run(data, alsHandler));
        }),
      ),
    () =>
      request.run(() =>
        ns(() => {
          const text = JSON.stringify(carrier.inject());
          return do_not_optimize(carrier.run(text, carryHandler));
        }),
      ),
  );
  rows.push(['JSON text (BullMQ metadata)', raw!, ours!]);
}

// 2. As a worker thread receives it: the object itself (structured clone is the
// same for both, and left out).
{
  const [raw, ours] = await alternate(
    () =>
      als.run(store, () =>
        ns(() => {
          const s = als.getStore()!;
          const data = { tenant: s.tenant, user: s.user, requestId: s.requestId };
          return do_not_optimize(als.run(data, alsHandler));
        }),
      ),
    () => request.run(() => ns(() => do_not_optimize(carrier.run(carrier.inject(), carryHandler)))),
  );
  rows.push(['object (postMessage / workerData)', raw!, ours!]);
}

console.log(`Node ${process.version}, ${QUICK ? 'quick' : 'full'} run: inject + run per job\n`);
const header = ['hand-off', 'raw ALS ns/job', 'carry ns/job', 'added ns/job', 'ratio'];
const table = rows.map(([name, raw, ours]) => [
  name,
  raw.toFixed(0),
  ours.toFixed(0),
  (ours - raw).toFixed(0),
  (ours / raw).toFixed(2),
]);
const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of table) console.log(line(r));
