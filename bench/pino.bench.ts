/**
 * The cost of log correlation: pino writing a line with no mixin, with a mixin that
 * reads the same two values (request id, tenant) from a raw AsyncLocalStorage, and
 * with the bridge's `pinoMixin` (request id, trace context when a span is active, one var), each inside a request-like context.
 * Target: `pinoMixin` within 1.1× of the raw-ALS mixin.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ContextVar, copyContext, requestId } from '@contextvars/core';
import { pinoMixin } from '@contextvars/otel-bridge';
import { measure } from 'mitata';
import pino from 'pino';

const QUICK = process.env.BENCH_QUICK === '1';
const opts = { min_cpu_time: (QUICK ? 100 : 400) * 1e6 } as const;
const sink = pino.destination({ dest: '/dev/null', sync: true });
const tenant = new ContextVar<string>('tenant');
const als = new AsyncLocalStorage<{ requestId: string; tenant: string }>();

const plain = pino({}, sink);
const alsLogger = pino(
  {
    mixin: () => {
      const s = als.getStore();
      return s === undefined ? {} : { request_id: s.requestId, tenant: s.tenant };
    },
  },
  sink,
);
const bridged = pino({ mixin: pinoMixin({ vars: { tenant } }) }, sink);

const ctx = copyContext();
ctx.run(() => {
  requestId.set('4bf92f35-77b3-4da6-a3ce-929d0e0e4736');
  tenant.set('acme');
});
const store = { requestId: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', tenant: 'acme' };

const cases: Array<[string, () => Promise<number>]> = [
  [
    'no mixin (baseline)',
    () => als.run(store, async () => (await measure(() => plain.info('hello'), opts)).p50),
  ],
  [
    'mixin reading raw AsyncLocalStorage (2 fields)',
    () => als.run(store, async () => (await measure(() => alsLogger.info('hello'), opts)).p50),
  ],
  [
    'pinoMixin (request id + 1 var)',
    () => ctx.run(async () => (await measure(() => bridged.info('hello'), opts)).p50),
  ],
];
// Both storages entered for every case, so that the resources look alike.
const samples = cases.map(() => [] as number[]);
for (let round = 0; round < 4; round++) {
  for (const [i, [, run]] of cases.entries()) {
    const value = await ctx.copy().run(() => als.run(store, run));
    if (round > 0) samples[i]!.push(value);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
const [base, raw, ours] = samples.map(median) as [number, number, number];
console.log(`Node ${process.version}; target: pinoMixin ≤ 1.1 × the raw-ALS mixin\n`);
console.log('| logger | ns/line | × no mixin | × raw-ALS mixin |');
console.log('| --- | ---: | ---: | ---: |');
for (const [[name], value] of cases.map((c, i) => [c, [base, raw, ours][i]!] as const)) {
  console.log(
    `| ${name} | ${value.toFixed(0)} | ${(value / base).toFixed(2)} | ${(value / raw).toFixed(2)} |`,
  );
}
