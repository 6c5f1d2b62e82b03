// The app of each framework, written once for the CommonJS and the ESM entry: the
// entry loads the modules (require or import) and hands them here, so the ESM app
// really runs our ESM builds and the frameworks as ESM imports.
'use strict';
const { createServer } = require('node:http');
const otel = require('./otel.cjs');

const { DOWNSTREAM, LOGS_FILE } = process.env;

/** `m`: { core, bridge, adapter, framework, pino, pinoHttp } as the entry loaded them. */
function build(name, m) {
  const { requestId } = m.core;
  const { extractTraceContext, pinoMixin, requestLogger } = m.bridge;
  const rid = () => requestId.get(null);
  const tagOf = (url) => new URL(url, 'http://x').searchParams.get('tag');

  // The README's recipe: one base logger with the mixin, request loggers from it.
  const logger = m.pino(
    { mixin: pinoMixin({ vars: { tenant: otel.tenant } }) },
    m.pino.destination({ dest: LOGS_FILE, sync: true }),
  );
  requestLogger.use(logger);

  const logVia = (log, via, tag) => {
    otel.point(`log:${via}`, tag, rid());
    log.info(`${via}|${tag}`);
  };
  /** Late code: records what it sees, logs, and starts a span where it runs. */
  const late = (at, tag) => {
    otel.point(at, tag, rid());
    logVia(logger, at, tag);
    otel.tracer.startSpan(`late:${at}`).end();
  };
  const timerIn = (hook, tag) => setTimeout(() => late(`timer-from-${hook}`, tag), 30);

  async function work(tag, res, frameworkLog) {
    otel.point('handler', tag, rid());
    logVia(requestLogger.get(), 'requestLogger', tag);
    logVia(logger, 'plain', tag);
    if (frameworkLog) logVia(frameworkLog, 'framework', tag);
    res.on('finish', () => late('finish', tag));
    otel.user.set(`u-${tag}`);
    const down = await fetch(`${DOWNSTREAM}/?tag=${tag}`);
    await down.text();
    otel.point('after-fetch', tag, rid());
    await otel.tracer.startActiveSpan('handler-work', async (span) => {
      logVia(logger, 'in-span', tag);
      span.end();
    });
    return {
      tag,
      rid: rid(),
      tenant: otel.tenant.get(null),
      traceId: otel.api.trace.getActiveSpan()?.spanContext().traceId ?? null,
    };
  }

  if (name === 'fastify') {
    return async () => {
      // The recommended setup: Fastify's own bindings carry our id under our key.
      const app = m.framework({
        loggerInstance: logger,
        requestIdLogLabel: 'request_id',
        genReqId: m.adapter.genReqId(),
      });
      await app.register(m.adapter.contextvars, {
        onRequest: (req) => extractTraceContext(req.headers),
      });
      app.addHook('onRequest', function appOnRequest(req, _reply, done) {
        timerIn('onRequest', tagOf(req.url));
        done();
      });
      app.addHook('onResponse', async function appOnResponse(req) {
        late('onResponse', tagOf(req.url));
      });
      app.setErrorHandler(function appErrorHandler(_err, req, reply) {
        late('errorHandler', tagOf(req.url));
        reply.code(500).send({ error: true });
      });
      app.get('/work', async (req, reply) => work(tagOf(req.url), reply.raw, req.log));
      app.get('/boom', async () => {
        throw new Error('boom');
      });
      await app.ready();
      return app.server;
    };
  }
  if (name === 'express') {
    return async () => {
      const app = m.framework();
      app.use(m.adapter.contextvars({ onRequest: (req) => extractTraceContext(req.headers) }));
      app.use(m.pinoHttp({ logger }));
      app.use(function appMiddleware(req, _res, next) {
        timerIn('middleware', tagOf(req.url));
        next();
      });
      app.get('/work', async (req, res) => {
        res.json(await work(tagOf(req.url), res, req.log));
      });
      app.get('/boom', async () => {
        throw new Error('boom');
      });
      app.use(function appErrorHandler(_err, req, res, _next) {
        late('errorHandler', tagOf(req.url));
        res.status(500).json({ error: true });
      });
      return createServer(app);
    };
  }
  if (name === 'koa') {
    return async () => {
      const app = new m.framework();
      app.use(m.adapter.contextvars({ onRequest: (ctx) => extractTraceContext(ctx.req.headers) }));
      app.use(async function appErrorHandler(ctx, next) {
        try {
          await next();
        } catch {
          late('errorHandler', tagOf(ctx.url));
          ctx.status = 500;
          ctx.body = { error: true };
        }
      });
      app.use(async function appMiddleware(ctx, next) {
        timerIn('middleware', tagOf(ctx.url));
        await next();
      });
      app.use(async function routes(ctx) {
        if (ctx.path === '/work') ctx.body = await work(tagOf(ctx.url), ctx.res, null);
        else if (ctx.path === '/boom') throw new Error('boom');
      });
      return createServer(app.callback());
    };
  }
  throw new Error(`unknown framework ${name}`);
}

/** Builds, listens on 127.0.0.1, tells the test the port, and ends the SDK on SIGTERM. */
async function main(name, m) {
  const server = await build(name, m)();
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    otel.sdk.shutdown().finally(() => process.exit(0));
  });
}

module.exports = { main };
