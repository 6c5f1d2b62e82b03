/**
 * The context manager's own cost: `with` + `active` through the contextvars
 * manager against OpenTelemetry's `AsyncLocalStorageContextManager`, measured in
 * turns in one process (both storages enabled before anything is measured).
 *
 *   pnpm bench:otel     (BENCH_QUICK=1 for a short run)
 */
import { ContextVarsContextManager } from '@contextvars/otel-bridge';
import { type ContextManager, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { do_not_optimize, measure } from 'mitata';

const QUICK = process.env.BENCH_QUICK === '1';
const opts = { min_cpu_time: (QUICK ? 50 : 300) * 1e6 } as const;
const key = createContextKey('k');
const spanCtx = ROOT_CONTEXT.setValue(key, 'span');

const ours = new ContextVarsContextManager().enable();
const reference = new AsyncLocalStorageContextManager().enable();

const cases: Record<string, (m: ContextManager) => () => unknown> = {
  'with(ctx, sync fn reading active())': (m) => () =>
    m.with(spanCtx, () => m.active().getValue(key)),
  'active() inside with': (m) => {
    let read: () => unknown = () => undefined;
    m.with(spanCtx, () => {
      read = () => m.active();
    });
    return () => m.with(spanCtx, read);
  },
  'nested with ×3': (m) => () =>
    m.with(spanCtx, () => m.with(spanCtx, () => m.with(spanCtx, () => m.active()))),
  'with(ctx, async fn)': (m) => () => m.with(spanCtx, async () => m.active()),
};

// Enable both storages, as in a real process, before measuring either.
ours.with(spanCtx, () => reference.with(spanCtx, () => undefined));

const rows: string[][] = [];
for (const [name, make] of Object.entries(cases)) {
  // Four rounds in turns; the first is a warm-up (the first code measured in a
  // process runs on fresher object shapes), the median of the other three counts.
  const samples: number[][] = [[], []];
  for (let round = 0; round < 4; round++) {
    for (const [i, m] of [reference, ours].entries()) {
      const fn = make(m);
      const p50 = (await measure(() => do_not_optimize(fn()), opts)).p50;
      if (round > 0) samples[i]!.push(p50);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  const [ref, own] = [median(samples[0]!), median(samples[1]!)];
  rows.push([name, ref.toFixed(1), own.toFixed(1), (own / ref).toFixed(2)]);
}

console.log(`Node ${process.version}; target: ratio ≤ 1.3\n`);
console.log('| case | AsyncLocalStorageContextManager ns | ContextVarsContextManager ns | ratio |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
