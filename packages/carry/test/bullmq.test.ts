/**
 * BullMQ on a real Redis (a redis-server of the test's own), with the carrier fitted
 * into BullMQ's telemetry interface and OpenTelemetry's real SDK: jobs added inside
 * Fastify requests are processed with the request's declared values, its request
 * id and its trace; retries, delayed jobs and failures keep them; a job added
 * outside any request carries nothing and still runs; a bad record never stops a job.
 */
import { ContextVar, requestId } from '@contextvars/core';
import { contextvars } from '@contextvars/fastify';
import { registerContextManager, traceCarrier } from '@contextvars/otel-bridge';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type Job, Queue, Worker } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/support/redis.js';
import { bullmqTelemetry } from '../src/bullmq.js';
import { type CarryError, defineCarrier } from '../src/index.js';

const tenant = new ContextVar<string>('tenant');
const plan = new ContextVar<{ tier: string; seats: number }>('plan');
const password = new ContextVar<string>('password');

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const reports: CarryError[] = [];
const carrier = defineCarrier({
  vars: { tenant: { var: tenant, codec: 'string' }, plan: { var: plan, codec: 'json' } },
  trace: traceCarrier({ tracer }),
  onInvalid: (err) => reports.push(err),
});
const telemetry = bullmqTelemetry(carrier);

interface Seen {
  attempt: number;
  tenant: string | undefined;
  plan: { tier: string; seats: number } | undefined;
  requestId: string | undefined;
  password: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
}

interface JobData {
  key: string;
  /** Attempts that throw before one succeeds. */
  failures?: number;
}

const seen = new Map<string, Seen[]>();
const waiters = new Map<string, { count: number; resolve: () => void }>();
const failedEvents = new Map<string, { tenant?: string; requestId?: string }>();

function record(key: string, entry: Seen) {
  const list = seen.get(key) ?? [];
  list.push(entry);
  seen.set(key, list);
}

/** Resolves when the job of `key` has finished `count` attempts. */
function attempts(key: string, count = 1): Promise<Seen[]> {
  return new Promise((resolve) => {
    const done = () => resolve(seen.get(key)!);
    if ((seen.get(key)?.length ?? 0) >= count) return done();
    waiters.set(key, { count, resolve: done });
  });
}

async function processor(job: Job<JobData>) {
  const { key, failures = 0 } = job.data;
  // Async work first: the context must survive it.
  await new Promise((r) => setTimeout(r, Math.random() * 5));
  await tracer.startActiveSpan('work', async (span: Span) => {
    const sc = trace.getActiveSpan()?.spanContext();
    record(key, {
      attempt: job.attemptsMade,
      tenant: tenant.get(undefined),
      plan: plan.get(undefined),
      requestId: requestId.get(undefined),
      password: password.get(undefined),
      traceId: sc?.traceId,
      spanId: sc?.spanId,
    });
    span.end();
  });
  const waiter = waiters.get(key);
  const finished = seen.get(key)!.length;
  if (waiter !== undefined && finished >= waiter.count) queueMicrotask(waiter.resolve);
  if (finished <= failures) throw new Error(`attempt ${finished} of ${key} fails`);
  return 'done';
}

let redis: RedisServer;
let queue: Queue<JobData>;
let worker: Worker<JobData>;
let app: FastifyInstance;
let url: string;
let unregister: () => void;

beforeAll(async () => {
  // Fails here, with what to install, on a machine without redis-server.
  redis = await startRedis();
  unregister = registerContextManager();
  trace.setGlobalTracerProvider(provider);
  const connection = { host: redis.host, port: redis.port };
  queue = new Queue<JobData>('orders', { connection, telemetry });
  worker = new Worker<JobData>('orders', processor, { connection, telemetry, concurrency: 8 });
  worker.on('failed', (job) => {
    // BullMQ emits `failed` inside the job's processing: the job's Context.
    if (job)
      failedEvents.set(job.data.key, {
        tenant: tenant.get(undefined),
        requestId: requestId.get(undefined),
      });
  });
  await worker.waitUntilReady();

  app = Fastify();
  await app.register(contextvars, {
    onRequest: (req) => {
      tenant.set(String(req.headers['x-tenant']));
      plan.set({ tier: 'gold', seats: Number(req.headers['x-seats']) });
      password.set('never-leaves');
    },
  });
  app.post('/jobs/:key', async (req) =>
    tracer.startActiveSpan('POST /jobs', async (span: Span) => {
      const { key } = req.params as { key: string };
      const opts = (req.body ?? {}) as { attempts?: number; delay?: number; failures?: number };
      const job = await queue.add(
        'order',
        { key, failures: opts.failures },
        { attempts: opts.attempts, delay: opts.delay, backoff: 0 },
      );
      span.end();
      return {
        jobId: job.id,
        requestId: requestId.get(),
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
      };
    }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}, 30_000);

afterAll(async () => {
  await app?.close();
  await worker?.close();
  await queue?.close();
  unregister?.();
  trace.disable();
  await redis?.stop();
});

async function addInRequest(key: string, n: number, body: Record<string, number> = {}) {
  const res = await fetch(`${url}/jobs/${key}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-tenant': `tenant-${n}`,
      'x-seats': String(n),
      'x-request-id': `req-${key}`,
    },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    jobId: string;
    requestId: string;
    traceId: string;
    spanId: string;
  };
}

const spansNamed = (name: string, traceId: string) =>
  exporter.getFinishedSpans().filter((s) => s.name === name && s.spanContext().traceId === traceId);

function expectContext(s: Seen | undefined, key: string, n: number, traceId: string) {
  expect(s).toMatchObject({
    tenant: `tenant-${n}`,
    plan: { tier: 'gold', seats: n },
    requestId: `req-${key}`,
    password: undefined,
    traceId,
  });
}

describe('BullMQ', () => {
  it('a job added in a request is processed with that request’s values, request id and trace (30 concurrent)', async () => {
    const added = await Promise.all(Array.from({ length: 30 }, (_, n) => addInRequest(`c${n}`, n)));
    const results = await Promise.all(added.map((_, n) => attempts(`c${n}`)));
    for (const [n, [s]] of results.entries()) expectContext(s, `c${n}`, n, added[n]!.traceId);
    await new Promise((r) => setTimeout(r, 50));
    for (const [n, a] of added.entries()) {
      // The request span → "add orders.order" (PRODUCER) → "process orders" (CONSUMER, a
      // child that also links to it) → the processor's own span.
      const [producer] = spansNamed('add orders.order', a.traceId);
      const [consumer] = spansNamed('process orders', a.traceId);
      const [work] = spansNamed('work', a.traceId);
      expect(producer?.kind).toBe(SpanKind.PRODUCER);
      expect(producer?.parentSpanContext?.spanId).toBe(a.spanId);
      expect(consumer?.kind).toBe(SpanKind.CONSUMER);
      expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
      expect(consumer?.links.map((l) => l.context.spanId)).toEqual([
        producer?.spanContext().spanId,
      ]);
      expect(consumer?.attributes).toMatchObject({
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'process',
        'bullmq.queue.name': 'orders',
      });
      expect(work?.parentSpanContext?.spanId).toBe(consumer?.spanContext().spanId);
      expect(results[n]![0]!.spanId).toBe(work?.spanContext().spanId);
    }
    // The record in Redis holds the declared vars only.
    const job = await queue.getJob(added[0]!.jobId);
    const metadata = JSON.parse(job!.opts.telemetry!.metadata!);
    expect(Object.keys(metadata.vars)).toEqual(['tenant', 'plan']);
    expect(JSON.stringify(job!.opts)).not.toContain('never-leaves');
  });

  it('every retry of a job runs in the context it was added in', async () => {
    const a = await addInRequest('retry', 41, { attempts: 3, failures: 2 });
    const tries = await attempts('retry', 3);
    expect(tries.map((t) => t.attempt)).toEqual([0, 1, 2]);
    for (const t of tries) expectContext(t, 'retry', 41, a.traceId);
    await new Promise((r) => setTimeout(r, 50));
    expect(spansNamed('process orders', a.traceId)).toHaveLength(3);
  });

  it('a delayed job keeps its context', async () => {
    const started = Date.now();
    const a = await addInRequest('delayed', 42, { delay: 400 });
    const [s] = await attempts('delayed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expectContext(s, 'delayed', 42, a.traceId);
  });

  it('a failing job keeps its context, in the processor and in the `failed` event', async () => {
    const a = await addInRequest('fails', 43, { failures: 1000 });
    const [s] = await attempts('fails');
    expectContext(s, 'fails', 43, a.traceId);
    await new Promise((r) => setTimeout(r, 100));
    expect(failedEvents.get('fails')).toEqual({ tenant: 'tenant-43', requestId: 'req-fails' });
    const [consumer] = spansNamed('process orders', a.traceId);
    expect(consumer?.events.map((e) => e.name)).toContain('job failed');
    expect(consumer?.status.code).not.toBe(SpanStatusCode.OK);
  });

  it('a job added outside any request carries no values, only its own new trace, and still runs', async () => {
    const job = await queue.add('order', { key: 'outside' });
    const [s] = await attempts('outside');
    expect(s).toMatchObject({ tenant: undefined, plan: undefined, requestId: undefined });
    // The producer span is the creation context of the message: that, and nothing else.
    const metadata = JSON.parse(job.opts.telemetry!.metadata!);
    expect(Object.keys(metadata)).toEqual(['v', 'vars', 'trace']);
    expect(metadata.vars).toEqual({});
    await new Promise((r) => setTimeout(r, 50));
    const [producer] = spansNamed('add orders.order', s!.traceId!);
    const [consumer] = spansNamed('process orders', s!.traceId!);
    expect(producer?.parentSpanContext).toBeUndefined();
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
  });

  it('without a trace hook, a job added outside any request carries no metadata at all', async () => {
    const plain = defineCarrier({ vars: { tenant: { var: tenant, codec: 'string' } } });
    const connection = { host: redis.host, port: redis.port };
    const q = new Queue<JobData>('plain', { connection, telemetry: bullmqTelemetry(plain) });
    const ran: Array<string | undefined> = [];
    const w = new Worker<JobData>(
      'plain',
      async () => {
        ran.push(tenant.get(undefined));
      },
      { connection, telemetry: bullmqTelemetry(plain) },
    );
    try {
      const job = await q.add('x', { key: 'plain' });
      expect(job.opts.telemetry).toBeUndefined();
      await new Promise<void>((resolve) => w.once('completed', () => resolve()));
      expect(ran).toEqual([undefined]);
    } finally {
      await w.close();
      await q.close();
    }
  });

  it('a job whose record is malformed, oversized, of another version or tampered runs with nothing restored', async () => {
    // Records written by something else: a queue without the carrier's telemetry.
    const raw = new Queue<JobData>('orders', {
      connection: { host: redis.host, port: redis.port },
    });
    const bad = [
      'not json',
      JSON.stringify({ v: 2, vars: { tenant: 'x' } }),
      JSON.stringify({ v: 1, vars: { tenant: 'x'.repeat(9000) } }),
      JSON.stringify({ v: 1, vars: { tenant: 7 }, requestId: 'r' }),
      '{"v":1,"vars":{"plan":{"__proto__":{"admin":true}}}}',
    ];
    reports.length = 0;
    try {
      await Promise.all(
        bad.map((metadata, i) => raw.add('order', { key: `bad${i}` }, { telemetry: { metadata } })),
      );
      const results = await Promise.all(bad.map((_, i) => attempts(`bad${i}`)));
      for (const [s] of results) {
        expect(s).toMatchObject({ tenant: undefined, plan: undefined, requestId: undefined });
      }
    } finally {
      await raw.close();
    }
    expect(reports.map((r) => [r.code, (r as { reason?: string }).reason]).sort()).toEqual(
      [
        ['ERR_CARRY_RECORD', 'malformed'],
        ['ERR_CARRY_RECORD', 'oversized'],
        ['ERR_CARRY_RECORD', 'tampered'],
        ['ERR_CARRY_RECORD', 'tampered'],
        ['ERR_CARRY_RECORD', 'version'],
      ].sort(),
    );
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});
