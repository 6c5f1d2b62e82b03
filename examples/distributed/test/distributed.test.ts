import type { AddressInfo } from 'node:net';
import { memoryDestination } from '@contextvars/example-shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, listen, send } from '../../../test/support/http.js';
import { type RedisServer, startRedis } from '../../../test/support/redis.js';
import {
  createOrderQueue,
  createServiceA,
  createServiceB,
  setUpTelemetry,
} from '../src/services.js';

describe('distributed example', () => {
  const logs = memoryDestination();
  let telemetry: ReturnType<typeof setUpTelemetry>;
  let a: Awaited<ReturnType<typeof createServiceA>>;
  let b: ReturnType<typeof createServiceB>;
  let aUrl: string;
  let redis: RedisServer;
  let orders: ReturnType<typeof createOrderQueue>;
  beforeAll(async () => {
    telemetry = setUpTelemetry();
    // Fails here, saying what to install, on a machine without redis-server.
    redis = await startRedis();
    orders = createOrderQueue(redis, logs);
    b = createServiceB(logs);
    const bUrl = await listen(b);
    a = await createServiceA(bUrl, logs, orders.queue);
    await a.listen({ port: 0, host: '127.0.0.1' });
    aUrl = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await a.close();
    await close(b);
    await orders?.close();
    await redis?.stop();
    telemetry.shutdown();
  });

  it('B’s and the worker’s logs and spans carry A’s trace id, and the tenant (baggage, job record), under concurrency', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send(`${aUrl}/order`, { headers: { 'x-tenant': `t${i}`, 'x-request-id': `d${i}` } }).then(
          (r) => r.json(),
        ),
      ),
    );
    // Jobs are processed after A answers: wait for every job's consumer span to end.
    await expect
      .poll(
        () =>
          telemetry.exporter.getFinishedSpans().filter((s) => s.name === 'process orders').length,
        { timeout: 10_000 },
      )
      .toBe(30);
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
      // The worker: A's request id, tenant and trace, its span under the job's
      // consumer span, itself a child of the producer span A started.
      const wLines = logs.lines.filter((l) => l.service === 'worker' && l.trace_id === r.traceId);
      expect(wLines).toHaveLength(1);
      expect(wLines[0]).toMatchObject({ request_id: `d${i}`, tenant: `t${i}` });
      const inTrace = (name: string) =>
        spans.find((s) => s.name === name && s.spanContext().traceId === r.traceId);
      const wSpan = inTrace('worker ship order');
      const process = inTrace('process orders');
      const add = inTrace('add orders.ship');
      expect(wSpan?.parentSpanContext?.spanId).toBe(process?.spanContext().spanId);
      expect(process?.parentSpanContext?.spanId).toBe(add?.spanContext().spanId);
      expect(add?.parentSpanContext?.spanId).toBe(aSpan?.spanContext().spanId);
      expect(wSpan?.attributes['app.tenant']).toBe(`t${i}`);
    });
  });
});
