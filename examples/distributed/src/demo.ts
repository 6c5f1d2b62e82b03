/**
 * The demo: starts service A and service B on 127.0.0.1, sends a burst of
 * concurrent requests (bounded), prints each request's log lines from both services
 * grouped by trace, and a summary. Exits 0 when every request's lines carry only
 * its own ids, 1 otherwise.
 */
import type { AddressInfo } from 'node:net';
import { memoryDestination } from '@contextvars/example-shared';
import { createServiceA, createServiceB, setUpTelemetry } from './services.js';

const REQUESTS = 12;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];

const telemetry = setUpTelemetry();
const logs = memoryDestination();
const serviceB = createServiceB(logs);
await new Promise<void>((resolve) => serviceB.listen(0, '127.0.0.1', resolve));
const bUrl = `http://127.0.0.1:${(serviceB.address() as AddressInfo).port}`;
const serviceA = await createServiceA(bUrl, logs);
await serviceA.listen({ port: 0, host: '127.0.0.1' });
const aUrl = `http://127.0.0.1:${(serviceA.server.address() as AddressInfo).port}`;

console.log(
  `service A on ${aUrl}, service B on ${bUrl}: sending ${REQUESTS} concurrent requests\n`,
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

let ok = true;
const spans = telemetry.exporter.getFinishedSpans();
for (const r of responses) {
  const lines = logs.lines.filter((l) => l.trace_id === r.traceId);
  const fromA = lines.filter((l) => l.service === 'A');
  const fromB = lines.filter((l) => l.service === 'B');
  const clean =
    fromA.length === 2 &&
    fromB.length === 1 &&
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

console.log('\nsummary');
console.log(`  requests:                 ${responses.length}`);
console.log(`  log lines:                ${logs.lines.length} (A and B)`);
console.log(
  `  per-request isolation:    ${ok ? 'verified, every line carries only its own ids' : 'FAILED'}`,
);
console.log(
  `  traces:                   ${traces.size}, ${spansPerTrace} spans each; B's span a child of A's: ${childOfA ? 'yes' : 'NO'}`,
);

await serviceA.close();
await new Promise<void>((resolve) => serviceB.close(() => resolve()));
telemetry.shutdown();
process.exitCode = ok && childOfA && traces.size === REQUESTS ? 0 : 1;
