import { createServer, type Server } from 'node:http';
import { ContextVar, requestId } from '@contextvars/core';
import { contextvars as expressContextvars } from '@contextvars/express';
import { contextvars as fastifyContextvars } from '@contextvars/fastify';
import { contextvars as koaContextvars } from '@contextvars/koa';
import { context, propagation, type Span, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { close, listen, send, sleep } from '../../../test/support/http.js';
import {
  baggageVars,
  contextVarAttributes,
  extractTraceContext,
  injectTraceContext,
  pinoMixin,
  registerContextManager,
  requestLogger,
} from '../src/index.js';

const tenant = new ContextVar<string>('tenant');
const userId = new ContextVar<string>('userId');
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [
    contextVarAttributes({ 'app.tenant': tenant, 'enduser.id': userId }),
    new SimpleSpanProcessor(exporter),
  ],
});
const tracer = provider.getTracer('test');
const lines: any[] = [];
const logger = pino(
  { mixin: pinoMixin({ vars: { tenant } }) },
  { write: (line: string) => lines.push(JSON.parse(line)) },
);
requestLogger.use(logger);
let unregister: () => void;

beforeAll(() => {
  unregister = registerContextManager();
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), baggageVars({ tenant })],
    }),
  );
});
afterAll(() => {
  unregister();
  trace.disable();
  propagation.disable();
});

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s).catch(() => {});
  exporter.reset();
  lines.length = 0;
});

const TRACE = (i: number) => `${i.toString(16).padStart(8, '0')}${'a'.repeat(24)}`;
const PARENT = (i: number) => `${i.toString(16).padStart(8, '0')}${'b'.repeat(8)}`;
const traceparent = (i: number) => `00-${TRACE(i)}-${PARENT(i)}-01`;

/** The handler every framework runs: a span, a log line from a "service module", the ids back. */
async function handle(): Promise<Record<string, unknown>> {
  userId.set(`user-of-${requestId.get()}`);
  return tracer.startActiveSpan('work', async (span: Span) => {
    await sleep(Math.random() * 3);
    requestLogger.get().info('in the service');
    logger.info('module logger');
    span.end();
    return {
      requestId: requestId.get(),
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      tenant: tenant.get(''),
    };
  });
}

const onRequest = (req: { headers: Record<string, any> }) => {
  extractTraceContext(req.headers);
};

const apps: Record<string, () => Promise<string>> = {
  fastify: async () => {
    const app = Fastify();
    await app.register(fastifyContextvars, { onRequest: (req) => onRequest(req) });
    app.get('/', async () => handle());
    await app.ready();
    servers.push(app.server);
    return listen(app.server);
  },
  express: async () => {
    const app = express();
    app.use(expressContextvars({ onRequest: (req) => onRequest(req) }));
    app.get('/', async (_req, res) => {
      res.json(await handle());
    });
    const server = createServer(app);
    servers.push(server);
    return listen(server);
  },
  koa: async () => {
    const app = new Koa();
    app.use(koaContextvars({ onRequest: (ctx) => onRequest(ctx.req) }));
    app.use(async (ctx) => {
      ctx.body = await handle();
    });
    const server = createServer(app.callback());
    servers.push(server);
    return listen(server);
  },
};

describe.each(Object.keys(apps))('%s with the bridge', (name) => {
  it('an incoming traceparent is the remote parent; attributes from vars; logs match the spans', async () => {
    const base = await apps[name]!();
    const res = await send(`${base}/`, {
      headers: {
        traceparent: traceparent(7),
        tracestate: 'vendor=value',
        baggage: 'tenant=acme%20corp,other=1',
        'x-request-id': 'req-7',
      },
    });
    const body = res.json();
    expect(body.traceId).toBe(TRACE(7));
    expect(body.tenant).toBe('acme corp');
    const [span] = exporter.getFinishedSpans();
    expect(span!.parentSpanContext?.spanId).toBe(PARENT(7));
    expect(span!.spanContext().traceId).toBe(TRACE(7));
    expect(span!.attributes).toMatchObject({
      'app.tenant': 'acme corp',
      'enduser.id': 'user-of-req-7',
    });
    const service = lines.find((l) => l.msg === 'in the service');
    expect(service).toMatchObject({
      request_id: 'req-7',
      trace_id: TRACE(7),
      span_id: body.spanId,
      trace_flags: '01',
      tenant: 'acme corp',
    });
  });

  it('200 concurrent requests: every log line carries its own request’s ids and none other’s', async () => {
    const base = await apps[name]!();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        send(`${base}/`, {
          headers: {
            traceparent: traceparent(i + 1),
            'x-request-id': `r${i + 1}`,
            baggage: `tenant=t${i + 1}`,
          },
        }).then((r) => r.json()),
      ),
    );
    results.forEach((r, i) => {
      expect(r.traceId).toBe(TRACE(i + 1));
      expect(r.requestId).toBe(`r${i + 1}`);
    });
    const logged = lines.filter((l) => l.msg === 'in the service' || l.msg === 'module logger');
    expect(logged).toHaveLength(400);
    for (const l of logged) {
      const n = Number(l.request_id.slice(1));
      expect(l.trace_id).toBe(TRACE(n));
      expect(l.tenant).toBe(`t${n}`);
    }
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(200);
    for (const s of spans) {
      const n = Number.parseInt(s.spanContext().traceId.slice(0, 8), 16);
      expect(s.parentSpanContext?.spanId).toBe(PARENT(n));
      expect(s.attributes['app.tenant']).toBe(`t${n}`);
    }
  });

  it('malformed or hostile trace headers are ignored: a fresh trace, a 200, valid JSON logs', async () => {
    const base = await apps[name]!();
    for (const bad of [
      `ff-${TRACE(1)}-${PARENT(1)}-01`,
      `00-${'0'.repeat(32)}-${PARENT(1)}-01`,
      'x'.repeat(10_000),
      `00-${TRACE(1).toUpperCase()}-${PARENT(1)}-01`,
    ]) {
      const res = await send(`${base}/`, {
        headers: { traceparent: bad, tracestate: '=,=,'.repeat(1000), baggage: '%%%,=,;;;' },
      });
      expect(res.status).toBe(200);
      expect(res.json().traceId).not.toBe(TRACE(1));
    }
    expect(lines.every((l) => typeof l.msg === 'string')).toBe(true);
  });
});

describe('two services', () => {
  it('B’s spans are children of A’s, B sees A’s baggage vars, both logs share the trace id', async () => {
    const b = express();
    b.use(expressContextvars({ onRequest: (req) => onRequest(req) }));
    b.get('/b', (_req, res) => {
      tracer.startActiveSpan('b.work', (span) => {
        logger.info('in B');
        span.end();
        res.json({ tenant: tenant.get('none') });
      });
    });
    const serverB = createServer(b);
    servers.push(serverB);
    const baseB = await listen(serverB);

    const a = Fastify();
    await a.register(fastifyContextvars, { onRequest: (req) => onRequest(req) });
    a.get('/a', async () => {
      tenant.set('tenant-from-A');
      return tracer.startActiveSpan('a.call-b', async (span) => {
        logger.info('in A');
        const headers = injectTraceContext({});
        const fromB = await send(`${baseB}/b`, { headers });
        span.end();
        return {
          fromB: fromB.json(),
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
        };
      });
    });
    await a.ready();
    servers.push(a.server);
    const baseA = await listen(a.server);

    const res = (await send(`${baseA}/a`)).json();
    expect(res.fromB).toEqual({ tenant: 'tenant-from-A' });
    const spans = exporter.getFinishedSpans();
    const bSpan = spans.find((s) => s.name === 'b.work')!;
    expect(bSpan.spanContext().traceId).toBe(res.traceId);
    expect(bSpan.parentSpanContext?.spanId).toBe(res.spanId);
    const inA = lines.find((l) => l.msg === 'in A');
    const inB = lines.find((l) => l.msg === 'in B');
    expect(inA.trace_id).toBe(res.traceId);
    expect(inB.trace_id).toBe(res.traceId);
    expect(inB.tenant).toBe('tenant-from-A');
    expect(inA.request_id).not.toBe(inB.request_id);
  });
});

describe('pino mixin and request logger outside requests', () => {
  it('adds nothing outside a request or span', () => {
    logger.info('outside');
    const line = lines.find((l) => l.msg === 'outside');
    expect(line.request_id).toBeUndefined();
    expect(line.trace_id).toBeUndefined();
    expect(line.tenant).toBeUndefined();
    expect(requestLogger.get()).toBe(logger);
    expect(context.active()).toBeDefined();
  });
});

describe('pinoMixin with a merge object', () => {
  it('returns a fresh object per line, which pino may write into', () => {
    const mixin = pinoMixin();
    const a = mixin();
    const b = mixin();
    expect(a).not.toBe(b);
    expect(Object.isExtensible(a)).toBe(true);
    logger.info({ first: 1 }, 'with merge object');
    logger.info('second');
    const second = lines.find((l) => l.msg === 'second');
    expect(second.first).toBeUndefined();
  });
});
