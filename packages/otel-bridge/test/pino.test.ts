import { createServer } from 'node:http';
import { copyContext, requestId } from '@contextvars/core';
import { contextvars as expressContextvars } from '@contextvars/express';
import { contextvars as fastifyContextvars, genReqId } from '@contextvars/fastify';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys, duplicateKeysInLines } from '../../../test/otel-sdk/duplicate-keys.js';
import { close, listen, send } from '../../../test/support/http.js';
import { pinoMixin, RequestLoggerVar, registerContextManager } from '../src/index.js';

const tracer = new BasicTracerProvider().getTracer('pino-test');
let unregister: () => void;
beforeAll(() => {
  unregister = registerContextManager();
});
afterAll(() => unregister());

/** A logger with the mixin whose raw lines are kept as written. */
function rawLogger(options: pino.LoggerOptions = {}) {
  const raw: string[] = [];
  const logger = pino(
    { mixin: pinoMixin(), ...options },
    { write: (line: string) => raw.push(line.trimEnd()) },
  );
  return { logger, raw };
}

/** Runs `fn` in a fresh Context with a request id and an active span, as a request does. */
function inRequest<R>(id: string, fn: () => R): R {
  return copyContext().run(() => {
    requestId.set(id);
    return tracer.startActiveSpan('request', (span) => {
      try {
        return fn();
      } finally {
        span.end();
      }
    });
  });
}

describe('the duplicate-key detector', () => {
  it('finds a key written twice, at the top and nested, and nothing on a clean line', () => {
    expect(duplicateKeys('{"request_id":"x","request_id":"x","msg":"m"}')).toEqual([
      { path: '$', key: 'request_id' },
    ]);
    expect(
      duplicateKeys('{"a":{"b":1,"c":[{"d":1,"d":2}],"b":3},"e":"\\"b\\":1,\\"b\\""}'),
    ).toEqual([
      { path: '$.a.c[0]', key: 'd' },
      { path: '$.a', key: 'b' },
    ]);
    expect(duplicateKeys('{"a":"{\\"a\\":1}","b":[1,2.5e3,true,null],"c":{}}')).toEqual([]);
    expect(duplicateKeysInLines('{"k":1}\n{"k":1,"k":2}\n')).toHaveLength(1);
    expect(() => duplicateKeys('{"k":1')).toThrow(SyntaxError);
  });
});

describe('pinoMixin never writes a key the logger already binds', () => {
  it('requestLogger (a child bound with request_id) + the mixin: each key once', () => {
    const { logger, raw } = rawLogger();
    const perRequest = new RequestLoggerVar('perRequest').use(logger);
    const spanId = inRequest('req-1', () => {
      perRequest.get().info('via requestLogger');
      logger.info('via the plain logger');
      return trace.getActiveSpan()?.spanContext().spanId;
    });
    expect(raw).toHaveLength(2);
    expect(duplicateKeysInLines(raw.join('\n'))).toEqual([]);
    for (const line of raw) {
      const parsed = JSON.parse(line);
      expect(parsed.request_id).toBe('req-1');
      expect(parsed.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(parsed.span_id).toBe(spanId);
      expect(parsed.trace_flags).toBe('01');
    }
  });

  it('keys bound by the app (trace_id, a var) are skipped too; setBindings is noticed', () => {
    const { logger, raw } = rawLogger();
    const child = logger.child({ trace_id: 'bound-by-app' });
    inRequest('req-2', () => {
      child.info('bound trace_id');
      child.setBindings({ request_id: 'rebound' });
      child.info('after setBindings');
      logger.child({}).info('an empty child');
    });
    expect(duplicateKeysInLines(raw.join('\n'))).toEqual([]);
    const [first, second, third] = raw.map((l) => JSON.parse(l));
    expect(first).toMatchObject({ trace_id: 'bound-by-app', request_id: 'req-2' });
    expect(second).toMatchObject({ trace_id: 'bound-by-app', request_id: 'rebound' });
    expect(third.request_id).toBe('req-2');
    expect(third.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a merge object with the same key is merged by pino, not duplicated', () => {
    const { logger, raw } = rawLogger();
    inRequest('req-3', () => logger.info({ request_id: 'explicit' }, 'merge object'));
    expect(duplicateKeys(raw[0]!)).toEqual([]);
    expect(JSON.parse(raw[0]!).request_id).toBe('explicit');
  });

  it('called without pino’s third argument (or with a non-pino logger) it adds every field', () => {
    const mixin = pinoMixin();
    const fields = inRequest('req-4', () => [mixin(), mixin({}, 30, {}), mixin({}, 30, undefined)]);
    for (const f of fields)
      expect(Object.keys(f).sort()).toEqual(['request_id', 'span_id', 'trace_flags', 'trace_id']);
  });
});

describe('Fastify’s own logger', () => {
  async function run(options: Record<string, unknown>) {
    const { logger, raw } = rawLogger();
    const app = Fastify({ loggerInstance: logger, ...options });
    await app.register(fastifyContextvars);
    app.get('/', async (request) => {
      request.log.info('handler via request.log');
      return { id: requestId.get() };
    });
    await app.ready();
    const base = await listen(app.server);
    try {
      const res = await send(`${base}/`);
      return { raw, id: res.json().id as string };
    } finally {
      await close(app.server);
    }
  }

  it('recommended: requestIdLogLabel "request_id" + genReqId(): every line, Fastify’s own included, carries the request id once', async () => {
    const { raw, id } = await run({ requestIdLogLabel: 'request_id', genReqId: genReqId() });
    expect(duplicateKeysInLines(raw.join('\n'))).toEqual([]);
    const lines = raw.map((l) => JSON.parse(l));
    for (const msg of ['incoming request', 'handler via request.log', 'request completed']) {
      expect(lines.find((l) => l.msg === msg)).toMatchObject({ request_id: id });
    }
  });

  it('default label (reqId): no duplicate; the handler’s lines carry both, equal', async () => {
    const { raw, id } = await run({});
    expect(duplicateKeysInLines(raw.join('\n'))).toEqual([]);
    const handler = raw.map((l) => JSON.parse(l)).find((l) => l.msg === 'handler via request.log');
    expect(handler).toMatchObject({ reqId: id, request_id: id });
  });
});

describe('pino-http', () => {
  it('a customProps request_id and the mixin: once per line', async () => {
    const { logger, raw } = rawLogger();
    const app = express();
    app.use(expressContextvars());
    app.use(pinoHttp({ logger, customProps: () => ({ request_id: requestId.get() }) }));
    app.get('/', (req, res) => {
      req.log.info('handler via req.log');
      res.json({ id: requestId.get() });
    });
    const server = createServer(app);
    const base = await listen(server);
    try {
      const { id } = (await send(`${base}/`)).json();
      // pino-http writes its line on 'finish', after the response was sent.
      await new Promise((r) => setTimeout(r, 20));
      expect(duplicateKeysInLines(raw.join('\n'))).toEqual([]);
      const lines = raw.map((l) => JSON.parse(l));
      expect(lines.find((l) => l.msg === 'handler via req.log')).toMatchObject({ request_id: id });
      expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({ request_id: id });
    } finally {
      await close(server);
    }
  });
});
