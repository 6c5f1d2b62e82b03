// One server for the HTTP benchmark: `node http-server.mjs <framework> <variant>`.
// Every variant but `bare` keeps 3 values per request and reads them in the
// handler (cls-rtracer keeps only its request id: that is all it offers).
// Prints the port when ready.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ContextVar, requestId } from '@contextvars/core';
import { generateRequestId, isValidRequestId, singleRawHeader } from '@contextvars/http';

const [framework, variant] = process.argv.slice(2);
const a = new ContextVar('a');
const b = new ContextVar('b');
const c = new ContextVar('c');
const setVars = () => {
  a.set('tenant-1');
  b.set(42);
  c.set('user-7');
};
const als = new AsyncLocalStorage();
const alsStore = () =>
  new Map([
    ['a', 'tenant-1'],
    ['b', 42],
    ['c', 'user-7'],
  ]);

/**
 * `als-id`: the raw-ALS middleware doing the request-id work of our default as
 * well, with our own policy and generator, so that ours ÷ this is what the Context
 * machinery costs and nothing else: the incoming `x-request-id` when valid (read
 * from `rawHeaders`, as the adapters do: Node builds `req.headers` lazily), else a
 * new id, kept as a fourth value and echoed with the same call the adapter makes.
 */
const ECHO = 'x-request-id';
const alsId = (raw) => {
  const incoming = singleRawHeader(raw.rawHeaders, ECHO);
  return isValidRequestId(incoming) ? incoming : generateRequestId();
};
const alsIdStore = (id) =>
  new Map([
    ['a', 'tenant-1'],
    ['b', 42],
    ['c', 'user-7'],
    ['requestId', id],
  ]);

/** What each variant's handler reads back. */
const readers = {
  bare: () => ({}),
  contextvars: () => ({ a: a.get(), b: b.get(), c: c.get() }),
  als: () => {
    const s = als.getStore();
    return { a: s.get('a'), b: s.get('b'), c: s.get('c') };
  },
};
readers['als-id'] = readers.als;
const payload = () => ({ hello: 'world', ...readers[variant]() });

/**
 * Ids like Fastify's own default (`req-1`, `req-2`, … in base 36, wrapping at
 * 2^31 − 1): what the like-for-like variants generate where the peer makes no id
 * of its own, because our adapters always give a request an id and a counter is
 * the cheapest one.
 */
let lastId = 0;
const counterId = () => {
  lastId = (lastId + 1) & 0x7fffffff;
  return `req-${lastId.toString(36)}`;
};
/** Only what the peer does: no incoming id read, none echoed. */
const likePeer = { requestIdHeader: false, echoRequestId: false };

/**
 * The adapter's options per variant of ours: the default configuration
 * (`contextvars`), and `contextvars-like-<peer>`, configured to do only what that
 * peer does by default (bench/README.md says what each one does).
 */
const OURS = {
  contextvars: { onRequest: setVars },
  // The default with the echo off: what the contract's response header costs.
  'contextvars-no-echo': { echoRequestId: false, onRequest: setVars },
  'contextvars-like-request-context': {
    ...likePeer,
    generateRequestId: counterId,
    onRequest: setVars,
  },
  'contextvars-like-express-http-context': {
    ...likePeer,
    generateRequestId: counterId,
    onRequest: setVars,
  },
  // cls-rtracer keeps a UUID (v1) per request and nothing else: our default id.
  'contextvars-like-cls-rtracer': likePeer,
  'contextvars-like-context-storage': {
    ...likePeer,
    generateRequestId: counterId,
    onRequest: setVars,
  },
  // nestjs-cls makes no id unless `generateId: true`.
  'contextvars-like-nestjs-cls': { ...likePeer, generateRequestId: counterId, onRequest: setVars },
  'otel-auto-contextvars': { onRequest: setVars },
};
readers['otel-auto-als'] = readers.als;
/** The variants whose middleware is the hand-written `AsyncLocalStorage.run`. */
const usesAls = variant === 'als' || variant === 'otel-als' || variant === 'otel-auto-als';
for (const name of Object.keys(OURS)) {
  readers[name] =
    name === 'contextvars-like-cls-rtracer' ? () => ({ id: requestId.get() }) : readers.contextvars;
}
const ours = OURS[variant];

/** The OpenTelemetry variants: `otel-als`, `otel-contextvars`. */
const isOtel = variant === 'otel-als' || variant === 'otel-contextvars';
/** Runs `fn` inside a span (set up by `otelVariant`). */
let around;

/**
 * Sets up the OpenTelemetry variants: the SDK on the matching context manager,
 * `around` opening a span per request, and `ours` (the adapter's options,
 * extracting the incoming trace context) or the raw-ALS reader.
 */
async function otelVariant() {
  let manager;
  if (variant === 'otel-contextvars') {
    const { ContextVarsContextManager } = await import('@contextvars/otel-bridge');
    manager = new ContextVarsContextManager();
  } else {
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    manager = new AsyncLocalStorageContextManager();
  }
  around = await setUpOtel(manager);
  if (variant === 'otel-contextvars') {
    const { extractTraceContext } = await import('@contextvars/otel-bridge');
    readers[variant] = readers.contextvars;
    return {
      onRequest: (req) => {
        // Koa hands the hook its ctx, the others their request: both have headers.
        extractTraceContext(req.headers);
        setVars();
      },
    };
  }
  readers[variant] = readers.als;
  return undefined;
}

/** Many vars per request: `contextvars-10`, `contextvars-100`. */
const manyVars = Array.from({ length: 100 }, (_, i) => new ContextVar(`v${i}`));
const varCount = /^contextvars-(\d+)$/.exec(variant)?.[1];

/** Spans ended so far: `BENCH_COUNT_SPANS=1` prints it at exit, to check a setup. */
let exported = 0;
if (process.env.BENCH_COUNT_SPANS === '1')
  process.on('exit', () => console.error(`spans exported: ${exported}`));

/** The OpenTelemetry SDK with one span per request, on either context manager. */
async function setUpOtel(manager) {
  const { context, trace } = await import('@opentelemetry/api');
  const { BasicTracerProvider, SimpleSpanProcessor } = await import(
    '@opentelemetry/sdk-trace-base'
  );
  // An exporter that keeps nothing: a long run must not measure a growing array.
  const exporter = {
    export: (spans, done) => {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(manager.enable());
  trace.setGlobalTracerProvider(provider);
  const tracer = trace.getTracer('bench');
  return (fn) =>
    tracer.startActiveSpan('handler', (span) => {
      const out = fn();
      span.end();
      return out;
    });
}

/**
 * The OpenTelemetry stack as most apps run it (`otel-auto-als`,
 * `otel-auto-contextvars`): the SDK on either context manager, with the HTTP
 * instrumentation (a server span per request) and the framework's own
 * (@fastify/otel, instrumentation-express, instrumentation-koa: spans for its
 * hooks, middleware and handler), at the versions test/otel-sdk/previous tests.
 * Registered before the framework is imported, so that its loader hooks patch it.
 */
async function autoOtel() {
  let manager;
  if (variant === 'otel-auto-contextvars') {
    const { ContextVarsContextManager } = await import('@contextvars/otel-bridge');
    manager = new ContextVarsContextManager();
  } else {
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    manager = new AsyncLocalStorageContextManager();
  }
  await setUpOtel(manager);
  // The loader hook a `--import` flag would install: this file imports the
  // frameworks as ESM, which the require hooks alone do not see.
  const { register } = await import('node:module');
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const instrumentations = [new HttpInstrumentation()];
  if (framework === 'fastify') {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    instrumentations.push(new FastifyOtelInstrumentation({ registerOnInitialization: true }));
  } else if (framework === 'express') {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    instrumentations.push(new ExpressInstrumentation());
  } else if (framework === 'koa') {
    const { KoaInstrumentation } = await import('@opentelemetry/instrumentation-koa');
    instrumentations.push(new KoaInstrumentation());
  }
  registerInstrumentations({ instrumentations });
}

/**
 * Fastify with pino writing one line per request to a file (asynchronously, as
 * in production): with no mixin and no context library (`no-mixin`), with a raw
 * AsyncLocalStorage hook whose mixin reads the request id from the store
 * (`als-mixin`), and with the adapter and the bridge's `pinoMixin` (`pinomixin`).
 */
async function fastifyLogServer() {
  const { default: Fastify } = await import('fastify');
  const { default: pino } = await import('pino');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { rmSync } = await import('node:fs');
  const file = join(tmpdir(), `contextvars-bench-${process.pid}.log`);
  process.on('exit', () => rmSync(file, { force: true }));
  let mixin;
  if (variant === 'als-mixin') {
    mixin = () => {
      const store = als.getStore();
      return store === undefined ? {} : { request_id: store.requestId };
    };
  } else if (variant === 'pinomixin') {
    const { pinoMixin } = await import('@contextvars/otel-bridge');
    mixin = pinoMixin();
  }
  const logger = pino(
    { level: 'info', ...(mixin ? { mixin } : {}) },
    pino.destination({ dest: file, sync: false }),
  );
  const app = Fastify({ loggerInstance: logger, disableRequestLogging: true });
  if (variant === 'als-mixin') {
    app.addHook('onRequest', (req, _reply, done) => als.run({ requestId: req.id }, done));
  } else if (variant === 'pinomixin') {
    const { contextvars } = await import('@contextvars/fastify');
    await app.register(contextvars);
  }
  const handle = (req) => {
    req.log.info('handled');
    return { hello: 'world' };
  };
  app.get('/', async (req) => handle(req));
  app.post('/', async (req) => ({ ...handle(req), size: Object.keys(req.body).length }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

async function fastifyServer() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  const options = isOtel ? await otelVariant() : ours;
  if (varCount !== undefined) {
    const { contextvars } = await import('@contextvars/fastify');
    const n = Number(varCount);
    await app.register(contextvars, {
      onRequest: () => {
        for (let i = 0; i < n; i++) manyVars[i].set(i);
      },
    });
    readers[variant] = () => ({ first: manyVars[0].get(), last: manyVars[n - 1].get() });
  } else if (options !== undefined) {
    const { contextvars } = await import('@contextvars/fastify');
    await app.register(contextvars, options);
  } else if (usesAls) {
    app.addHook('onRequest', (_req, _reply, done) => als.run(alsStore(), done));
  } else if (variant === 'als-id') {
    app.addHook('onRequest', (req, reply, done) => {
      const id = alsId(req.raw);
      reply.header(ECHO, id);
      als.run(alsIdStore(id), done);
    });
  } else if (variant === 'request-context') {
    const { fastifyRequestContext, requestContext } = await import('@fastify/request-context');
    await app.register(fastifyRequestContext);
    app.addHook('onRequest', (req, _reply, done) => {
      req.requestContext.set('a', 'tenant-1');
      req.requestContext.set('b', 42);
      req.requestContext.set('c', 'user-7');
      done();
    });
    readers['request-context'] = () => ({
      a: requestContext.get('a'),
      b: requestContext.get('b'),
      c: requestContext.get('c'),
    });
  } else if (variant === 'cls-rtracer') {
    const { default: rTracer } = await import('cls-rtracer');
    await app.register(rTracer.fastifyPlugin);
    readers['cls-rtracer'] = () => ({ id: rTracer.id() });
  }
  // The non-OpenTelemetry handlers stay free of the span wrapper's call and closure.
  if (isOtel) {
    app.get('/', async () => around(payload));
    app.post('/', async (req) =>
      around(() => ({ ...payload(), size: Object.keys(req.body).length })),
    );
  } else {
    app.get('/', async () => payload());
    app.post('/', async (req) => ({ ...payload(), size: Object.keys(req.body).length }));
  }
  if (typeof globalThis.gc === 'function') {
    // For the scale benchmark (run with --expose-gc): heap used after a full GC.
    app.get('/__heap', async () => {
      globalThis.gc();
      return { heapUsed: process.memoryUsage().heapUsed };
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

async function expressServer() {
  const { default: express } = await import('express');
  const app = express();
  const options = isOtel ? await otelVariant() : ours;
  if (options !== undefined) {
    const { contextvars } = await import('@contextvars/express');
    app.use(contextvars(options));
  } else if (usesAls) {
    app.use((_req, _res, next) => als.run(alsStore(), next));
  } else if (variant === 'als-id') {
    app.use((req, res, next) => {
      const id = alsId(req);
      res.setHeader(ECHO, id);
      als.run(alsIdStore(id), next);
    });
  } else if (variant === 'express-http-context') {
    const { default: httpContext } = await import('express-http-context');
    app.use(httpContext.middleware);
    app.use((_req, _res, next) => {
      httpContext.set('a', 'tenant-1');
      httpContext.set('b', 42);
      httpContext.set('c', 'user-7');
      next();
    });
    readers['express-http-context'] = () => ({
      a: httpContext.get('a'),
      b: httpContext.get('b'),
      c: httpContext.get('c'),
    });
  } else if (variant === 'cls-rtracer') {
    const { default: rTracer } = await import('cls-rtracer');
    app.use(rTracer.expressMiddleware());
    readers['cls-rtracer'] = () => ({ id: rTracer.id() });
  }
  app.use(express.json());
  if (isOtel) {
    app.get('/', (_req, res) => res.json(around(payload)));
    app.post('/', (req, res) =>
      res.json(around(() => ({ ...payload(), size: Object.keys(req.body).length }))),
    );
  } else {
    app.get('/', (_req, res) => res.json(payload()));
    app.post('/', (req, res) => res.json({ ...payload(), size: Object.keys(req.body).length }));
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

async function koaServer() {
  const { default: Koa } = await import('koa');
  const { bodyParser } = await import('@koa/bodyparser');
  const app = new Koa();
  const options = isOtel ? await otelVariant() : ours;
  if (options !== undefined) {
    const { contextvars } = await import('@contextvars/koa');
    app.use(contextvars(options));
  } else if (usesAls) {
    app.use((_ctx, next) => als.run(alsStore(), next));
  } else if (variant === 'als-id') {
    app.use((ctx, next) => {
      const id = alsId(ctx.req);
      ctx.res.setHeader(ECHO, id);
      return als.run(alsIdStore(id), next);
    });
  } else if (variant === 'cls-rtracer') {
    const { default: rTracer } = await import('cls-rtracer');
    app.use(rTracer.koaMiddleware());
    readers['cls-rtracer'] = () => ({ id: rTracer.id() });
  }
  app.use(bodyParser());
  const respond = (ctx) =>
    ctx.method === 'POST'
      ? { ...payload(), size: Object.keys(ctx.request.body).length }
      : payload();
  app.use(
    isOtel
      ? async (ctx) => {
          ctx.body = around(() => respond(ctx));
        }
      : async (ctx) => {
          ctx.body = respond(ctx);
        },
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

async function honoServer() {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  if (ours !== undefined) {
    const { contextvars } = await import('@contextvars/hono');
    app.use(contextvars(ours));
  } else if (variant === 'als') {
    app.use((_c, next) => als.run(alsStore(), next));
  } else if (variant === 'als-id') {
    // Node's objects under @hono/node-server, as the adapter uses them there.
    app.use((c, next) => {
      const id = alsId(c.env.incoming);
      c.env.outgoing.setHeader(ECHO, id);
      return als.run(alsIdStore(id), next);
    });
  } else if (variant === 'context-storage') {
    // Hono's own: one AsyncLocalStorage holding `c`; values go in `c.set`.
    const { contextStorage, getContext } = await import('hono/context-storage');
    app.use(contextStorage());
    app.use((c, next) => {
      c.set('a', 'tenant-1');
      c.set('b', 42);
      c.set('c', 'user-7');
      return next();
    });
    readers['context-storage'] = () => {
      const c = getContext();
      return { a: c.get('a'), b: c.get('b'), c: c.get('c') };
    };
  }
  app.get('/', (c) => c.json(payload()));
  app.post('/', async (c) => {
    const body = await c.req.json();
    return c.json({ ...payload(), size: Object.keys(body).length });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

// NestJS 12 on platform-express, written without decorator syntax (this file is
// plain JavaScript): Nest's decorators are functions, applied here by hand.
async function nestjsServer() {
  await import('reflect-metadata');
  const { Body, Controller, Get, HttpCode, Module, Post } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const imports = [];
  if (ours !== undefined) {
    const { ContextVarsModule } = await import('@contextvars/nestjs');
    imports.push(ContextVarsModule.forRoot(ours));
  } else if (variant === 'als') {
    const AlsModule = class {
      configure(consumer) {
        consumer.apply((_req, _res, next) => als.run(alsStore(), next)).forRoutes('*');
      }
    };
    Module({})(AlsModule);
    imports.push(AlsModule);
  } else if (variant === 'als-id') {
    const AlsIdModule = class {
      configure(consumer) {
        consumer
          .apply((req, res, next) => {
            const id = alsId(req);
            res.setHeader(ECHO, id);
            als.run(alsIdStore(id), next);
          })
          .forRoutes('*');
      }
    };
    Module({})(AlsIdModule);
    imports.push(AlsIdModule);
  } else if (variant === 'nestjs-cls') {
    // What nestjs-cls users write: the middleware mounted by the module, values set
    // in its `setup`, read by singletons through the static ClsServiceManager.
    const { ClsModule, ClsServiceManager } = await import('nestjs-cls');
    imports.push(
      ClsModule.forRoot({
        global: true,
        middleware: {
          mount: true,
          setup: (cls) => {
            cls.set('a', 'tenant-1');
            cls.set('b', 42);
            cls.set('c', 'user-7');
          },
        },
      }),
    );
    const cls = ClsServiceManager.getClsService();
    readers['nestjs-cls'] = () => ({ a: cls.get('a'), b: cls.get('b'), c: cls.get('c') });
  }
  const BenchController = class {
    get() {
      return payload();
    }
    post(body) {
      return { ...payload(), size: Object.keys(body).length };
    }
  };
  const method = (name) => Object.getOwnPropertyDescriptor(BenchController.prototype, name);
  Get()(BenchController.prototype, 'get', method('get'));
  Post()(BenchController.prototype, 'post', method('post'));
  HttpCode(200)(BenchController.prototype, 'post', method('post'));
  Body()(BenchController.prototype, 'post', 0);
  Controller()(BenchController);
  const BenchModule = class {};
  Module({ imports, controllers: [BenchController] })(BenchModule);
  const app = await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer().address().port;
}

/** The variants each framework is measured with; the baseline (see BASELINE) first. */
export const VARIANTS = {
  fastify: [
    'bare',
    'contextvars',
    'contextvars-no-echo',
    'als',
    'als-id',
    'request-context',
    'cls-rtracer',
    'otel-als',
    'otel-contextvars',
    'otel-auto-als',
    'otel-auto-contextvars',
    'contextvars-like-request-context',
    'contextvars-like-cls-rtracer',
  ],
  'fastify-vars': ['contextvars-1', 'contextvars-10', 'contextvars-100'],
  'fastify-log': ['no-mixin', 'als-mixin', 'pinomixin'],
  express: [
    'bare',
    'contextvars',
    'contextvars-no-echo',
    'als',
    'als-id',
    'express-http-context',
    'cls-rtracer',
    'otel-als',
    'otel-contextvars',
    'otel-auto-als',
    'otel-auto-contextvars',
    'contextvars-like-express-http-context',
    'contextvars-like-cls-rtracer',
  ],
  koa: [
    'bare',
    'contextvars',
    'contextvars-no-echo',
    'als',
    'als-id',
    'cls-rtracer',
    'otel-als',
    'otel-contextvars',
    'otel-auto-als',
    'otel-auto-contextvars',
    'contextvars-like-cls-rtracer',
  ],
  hono: [
    'bare',
    'contextvars',
    'contextvars-no-echo',
    'als',
    'als-id',
    'context-storage',
    'contextvars-like-context-storage',
  ],
  nestjs: [
    'bare',
    'contextvars',
    'contextvars-no-echo',
    'als',
    'als-id',
    'nestjs-cls',
    'contextvars-like-nestjs-cls',
  ],
};

/** The variant the others are divided by: `bare` unless named here. */
export const BASELINE = { 'fastify-vars': 'contextvars-1', 'fastify-log': 'no-mixin' };

const servers = {
  fastify: fastifyServer,
  'fastify-log': fastifyLogServer,
  'fastify-vars': fastifyServer,
  express: expressServer,
  koa: koaServer,
  hono: honoServer,
  nestjs: nestjsServer,
};
if (import.meta.url === `file://${process.argv[1]}`) {
  if (!servers[framework] || !VARIANTS[framework]?.includes(variant)) {
    console.error(
      `usage: node http-server.mjs <framework> <variant>; variants: ${JSON.stringify(VARIANTS)}`,
    );
    process.exit(2);
  }
  if (variant.startsWith('otel-auto-')) await autoOtel();
  const port = await servers[framework]();
  console.log(`PORT ${port}`);
  process.on('SIGTERM', () => process.exit(0));
}
