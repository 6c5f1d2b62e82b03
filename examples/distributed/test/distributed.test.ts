import type { AddressInfo } from 'node:net';
import { memoryDestination } from '@contextvars/example-shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, listen, send } from '../../../test/support/http.js';
import { createServiceA, createServiceB, setUpTelemetry } from '../src/services.js';

describe('distributed example', () => {
  const logs = memoryDestination();
  let telemetry: ReturnType<typeof setUpTelemetry>;
  let a: Awaited<ReturnType<typeof createServiceA>>;
  let b: ReturnType<typeof createServiceB>;
  let aUrl: string;
  beforeAll(async () => {
    telemetry = setUpTelemetry();
    b = createServiceB(logs);
    const bUrl = await listen(b);
    a = await createServiceA(bUrl, logs);
    await a.listen({ port: 0, host: '127.0.0.1' });
    aUrl = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await a.close();
    await close(b);
    telemetry.shutdown();
  });

  it('B’s logs and spans carry A’s trace id, and the tenant from baggage, under concurrency', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send(`${aUrl}/order`, { headers: { 'x-tenant': `t${i}`, 'x-request-id': `d${i}` } }).then(
          (r) => r.json(),
        ),
      ),
    );
    const spans = telemetry.exporter.getFinishedSpans();
    results.forEach((r, i) => {
      expect(r.tenant).toBe(`t${i}`);
      expect(r.fromB.tenant).toBe(`t${i}`);
      const bLine = logs.lines.find((l) => l.service === 'B' && l.request_id === r.fromB.requestId);
      expect(bLine).toMatchObject({ trace_id: r.traceId, tenant: `t${i}` });
      const aLines = logs.lines.filter((l) => l.service === 'A' && l.request_id === `d${i}`);
      expect(aLines).toHaveLength(2);
      for (const l of aLines) expect(l.trace_id).toBe(r.traceId);
      const bSpan = spans.find(
        (s) => s.name === 'B check inventory' && s.spanContext().traceId === r.traceId,
      );
      const aSpan = spans.find(
        (s) => s.name === 'A place order' && s.spanContext().traceId === r.traceId,
      );
      expect(bSpan?.parentSpanContext?.spanId).toBe(aSpan?.spanContext().spanId);
      expect(bSpan?.attributes['app.tenant']).toBe(`t${i}`);
    });
  });
});
