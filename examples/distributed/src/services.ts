/**
 * Two services and a queue worker with the OpenTelemetry SDK and the bridge.
 * Service A (Fastify) receives a request, sets a `tenant` var and calls service B
 * (Express) over HTTP; B's logs and spans carry A's trace id, and the tenant
 * arrives through baggage. A then enqueues a BullMQ job; the worker processes it
 * with A's tenant, request id and trace, carried by `@contextvars/carry`.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { defineCarrier } from '@contextvars/carry';
import { bullmqTelemetry } from '@contextvars/carry/bullmq';
import { ContextVar, requestId } from '@contextvars/core';
import { contextvars as expressContextvars } from '@contextvars/express';
import { contextvars as fastifyContextvars } from '@contextvars/fastify';
import {
  baggageVars,
  contextVarAttributes,
  extractTraceContext,
  pinoMixin,
  registerContextManager,
  traceCarrier,
} from '@contextvars/otel-bridge';
import { context, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Queue, Worker } from 'bullmq';
import express from 'express';
import Fastify from 'fastify';
import pino, { type DestinationStream } from 'pino';

/** The tenant of the current request: set by A from its caller, carried to B in baggage. */
export const tenant = new ContextVar<string>('tenant');

/** What travels with a job: the tenant, and (by default) the request id and the trace context. */
export const carrier = defineCarrier({
  vars: { tenant: { var: tenant, codec: 'string' } },
  trace: traceCarrier(),
});

/** Sets up OpenTelemetry once per process: the bridge's context manager, propagators, an in-memory exporter. */
export function setUpTelemetry() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [
      contextVarAttributes({ 'app.tenant': tenant }),
      new SimpleSpanProcessor(exporter),
    ],
  });
  const unregister = registerContextManager();
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), baggageVars({ tenant })],
    }),
  );
  return {
    exporter,
    shutdown() {
      unregister();
      trace.disable();
      propagation.disable();
    },
  };
}

function logger(service: string, destination: DestinationStream) {
  return pino({ base: { service }, mixin: pinoMixin({ vars: { tenant } }) }, destination);
}

/** GET `url` with the current trace context and baggage injected (what HTTP instrumentation would do). */
function call(url: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Service B: answers with what it sees of the caller's context. */
export function createServiceB(destination: DestinationStream): Server {
  const log = logger('B', destination);
  const tracer = trace.getTracer('service-b');
  const app = express();
  app.use(expressContextvars({ onRequest: (req) => void extractTraceContext(req.headers) }));
  app.get('/inventory', (_req, res) => {
    tracer.startActiveSpan('B check inventory', (span) => {
      log.info('checking inventory');
      span.end();
      res.json({ tenant: tenant.get('none'), requestId: requestId.get() });
    });
  });
  return createServer(app);
}

/** A job of the order queue. */
export interface ShipJob {
  order: string;
}

/**
 * The order queue and its worker, on the Redis at `connection`. BullMQ's
 * telemetry option is where the carrier fits: the job's record rides in BullMQ's
 * own job metadata, and the processor runs in a Context restored from it.
 */
export function createOrderQueue(
  connection: { host: string; port: number },
  destination: DestinationStream,
) {
  const telemetry = bullmqTelemetry(carrier);
  const log = logger('worker', destination);
  const tracer = trace.getTracer('worker');
  const queue = new Queue<ShipJob>('orders', { connection, telemetry });
  const worker = new Worker<ShipJob>(
    'orders',
    (job) =>
      tracer.startActiveSpan('worker ship order', async (span) => {
        log.info({ job: job.id }, 'shipping order');
        span.end();
      }),
    { connection, telemetry },
  );
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

/** Service A: sets the tenant, calls B inside a span, logs around it, and enqueues a job when given a queue. */
export async function createServiceA(
  serviceB: string,
  destination: DestinationStream,
  queue?: Queue<ShipJob>,
) {
  const log = logger('A', destination);
  const tracer = trace.getTracer('service-a');
  const app = Fastify();
  await app.register(fastifyContextvars, {
    onRequest: (req) => {
      extractTraceContext(req.headers);
      tenant.set(String(req.headers['x-tenant'] ?? 'public'));
    },
  });
  app.get('/order', async () =>
    tracer.startActiveSpan('A place order', async (span) => {
      log.info('placing order');
      const fromB = await call(`${serviceB}/inventory`);
      await queue?.add('ship', { order: requestId.get() });
      log.info({ fromB }, 'order placed');
      span.end();
      return {
        tenant: tenant.get(),
        requestId: requestId.get(),
        traceId: span.spanContext().traceId,
        fromB,
      };
    }),
  );
  return app;
}
