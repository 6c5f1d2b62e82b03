/**
 * The demo: starts service A and service B on 127.0.0.1, a redis-server of its own
 * and a BullMQ worker, sends a burst of concurrent requests (bounded), prints each
 * request's log lines from both services and the worker grouped by trace, and a
 * summary. Exits 0 when every request's lines carry only its own ids, 1 otherwise.
 * Without redis-server on the machine, it says so and runs without the queue.
 */
import type { AddressInfo } from 'node:net';
import { memoryDestination } from '@contextvars/example-shared';
// The test suites' helper: a redis-server on a free port of 127.0.0.1, no persistence.
import { type RedisServer, redisUnavailable, startRedis } from '../../../test/support/redis.js';
import { createOrderQueue, createServiceA, createServiceB, setUpTelemetry } from './services.js';

const REQUESTS = 12;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];

const telemetry = setUpTelemetry();
const logs = memoryDestination();
const serviceB = createServiceB(logs);
await new Promise<void>((resolve) => serviceB.listen(0, '127.0.0.1', resolve));
const bUrl = `http://127.0.0.1:${(serviceB.address() as AddressInfo).port}`;
const noRedis = redisUnavailable();
if (noRedis !== undefined) console.log(`no queue in this run: ${noRedis}\n`);
const redis: RedisServer | undefined = noRedis === undefined ? await startRedis() : undefined;
const orders = redis && createOrderQueue(redis, logs);
const serviceA = await createServiceA(bUrl, logs, orders?.queue);
await serviceA.listen({ port: 0, host: '127.0.0.1' });
const aUrl = `http://127.0.0.1:${(serviceA.server.address() as AddressInfo).port}`;

console.log(
  `service A on ${aUrl}, service B on ${bUrl}${redis ? `, redis on ${redis.port}` : ''}: sending ${REQUESTS} concurrent requests\n`,
);
const responses = await Promise.all(
  Array.from({ length: REQUESTS }, async (_, i) => {
    const res = await fetch(`${aUrl}/order`, {
      headers: { 'x-tenant': TENANTS[i % TENANTS.length]!, 'x-request-id': `demo-${i + 1}` },
    });
    return (await res.json()) as {
      tenant: string;
      requestId: string;
      traceId: string;
      fromB: { tenant: string; requestId: string };
    };
  }),
);

// Jobs are processed after A has answered: wait for their spans to end (10 s at most).
for (let waited = 0; orders && waited < 10_000; waited += 50) {
  const processed = telemetry.exporter
    .getFinishedSpans()
    .filter((s) => s.name === 'process orders').length;
  if (processed >= REQUESTS) break;
  await new Promise((r) => setTimeout(r, 50));
}

let ok = true;
const spans = telemetry.exporter.getFinishedSpans();
for (const r of responses) {
  const lines = logs.lines.filter((l) => l.trace_id === r.traceId);
  const fromA = lines.filter((l) => l.service === 'A');
  const fromB = lines.filter((l) => l.service === 'B');
  const fromWorker = lines.filter((l) => l.service === 'worker');
  const clean =
    fromA.length === 2 &&
    fromB.length === 1 &&
    fromWorker.length === (orders ? 1 : 0) &&
    fromWorker.every((l) => l.request_id === r.requestId && l.tenant === r.tenant) &&
    fromA.every((l) => l.request_id === r.requestId && l.tenant === r.tenant) &&
    fromB.every((l) => l.request_id === r.fromB.requestId && l.tenant === r.tenant) &&
    r.fromB.tenant === r.tenant;
  ok &&= clean;
  console.log(
    `request ${r.requestId}  tenant=${r.tenant}  trace=${r.traceId}  ${clean ? 'ok' : 'MIXED UP'}`,
  );
  for (const l of lines) {
    console.log(
      `  [${l.service}] request_id=${l.request_id} tenant=${l.tenant} span=${l.span_id}  ${l.msg}`,
    );
  }
}
const traces = new Set(spans.map((s) => s.spanContext().traceId));
const spansPerTrace = spans.length / traces.size;
const childOfA = spans
  .filter((s) => s.name === 'B check inventory')
  .every((b) =>
    spans.some(
      (a) => a.name === 'A place order' && a.spanContext().spanId === b.parentSpanContext?.spanId,
    ),
  );

// The worker's spans continue A's: process (consumer) ← add (producer) ← A place order.
const spanById = new Map(spans.map((s) => [s.spanContext().spanId, s]));
const parentName = (s: (typeof spans)[number] | undefined) =>
  spanById.get(s?.parentSpanContext?.spanId ?? '')?.name;
const workerContinues = spans
  .filter((s) => s.name === 'worker ship order')
  .every((w) => {
    const process = spanById.get(w.parentSpanContext?.spanId ?? '');
    return (
      process?.name === 'process orders' &&
      parentName(spanById.get(process.parentSpanContext?.spanId ?? '')) === 'A place order'
    );
  });
const workerSpans = spans.filter((s) => s.name === 'worker ship order').length;

console.log('\nsummary');
console.log(`  requests:                 ${responses.length}`);
console.log(
  `  log lines:                ${logs.lines.length} (A, B${orders ? ' and the worker' : ''})`,
);
console.log(
  `  per-request isolation:    ${ok ? 'verified, every line carries only its own ids' : 'FAILED'}`,
);
console.log(
  `  traces:                   ${traces.size}, ${spansPerTrace} spans each; B's span a child of A's: ${childOfA ? 'yes' : 'NO'}`,
);
if (orders) {
  console.log(
    `  queue:                    ${workerSpans} jobs processed; the worker's spans continue A's trace (process ← add ← A): ${workerContinues ? 'yes' : 'NO'}`,
  );
}

await serviceA.close();
await new Promise<void>((resolve) => serviceB.close(() => resolve()));
await orders?.close();
await redis?.stop();
telemetry.shutdown();
const queueOk = !orders || (workerContinues && workerSpans === REQUESTS);
process.exitCode = ok && childOfA && queueOk && traces.size === REQUESTS ? 0 : 1;
