/**
 * The same small app in Fastify, Express and Koa, each with its @contextvars
 * adapter (or bare, as a control), a pino logger with the bridge's mixin, and a
 * handler that moves its work off the request's own async chain in every way the
 * reliability tests need.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { ContextVar, requestId, wrap } from '@contextvars/core';
import { contextvars as expressContextvars } from '@contextvars/express';
import { contextvars as fastifyContextvars } from '@contextvars/fastify';
import { contextvars as koaContextvars } from '@contextvars/koa';
import { extractTraceContext, pinoMixin } from '@contextvars/otel-bridge';
import { bodyParser } from '@koa/bodyparser';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import pino from 'pino';

export const FRAMEWORKS = ['fastify', 'express', 'koa'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** The per-request value the tests set in a hook and expect back everywhere. */
export const requestValue = new ContextVar<string>('requestValue');

// A connection pool that calls back from its own timer, outside any request:
// callbacks lose the request's Context unless wrapped.
const queue: Array<() => void> = [];
setInterval(() => {
  for (let job = queue.shift(); job !== undefined; job = queue.shift()) job();
}, 1).unref();
function poolQuery(cb: (err: null, rows: string) => void): void {
  queue.push(() => cb(null, 'rows'));
}

// A process-wide emitter, emitted from the pool's timer.
const bus = new EventEmitter();
bus.setMaxListeners(0);
let nextTicket = 0;

/** The handler's work: awaits of every kind, then what it sees. */
export async function work(): Promise<{ id: string | undefined; value: string | undefined }> {
  const steps = Math.floor(Math.random() * 4);
  for (let i = 0; i <= steps; i++) {
    switch ((i + steps) % 4) {
      case 0:
        await sleep(Math.random() * 3);
        break;
      case 1:
        await immediate();
        break;
      case 2:
        await new Promise<string>((resolve) =>
          poolQuery(wrap((_err: null, rows: string) => resolve(rows))),
        );
        break;
      case 3: {
        const ticket = `t${nextTicket++}`;
        await new Promise<void>((resolve) => {
          bus.once(
            ticket,
            wrap(() => resolve()),
          );
          queue.push(() => bus.emit(ticket));
        });
        break;
      }
    }
  }
  return { id: requestId.get(undefined), value: requestValue.get(undefined) };
}

/** A response body that fails after a few chunks; `report` sees the failure in the request's Context. */
function failingStream(report: (err: Error) => void): PassThrough {
  const stream = new PassThrough();
  let n = 0;
  const timer = setInterval(() => {
    if (++n < 4) {
      stream.write(`chunk ${n}\n`);
      return;
    }
    clearInterval(timer);
    const err = new Error('stream failed midway');
    report(err);
    stream.destroy(err);
  }, 2);
  return stream;
}

export interface AppOptions {
  /** Without the adapter: the control for memory baselines. */
  bare?: boolean;
  /** Where log lines go (JSON strings); none by default. */
  log?: (line: string) => void;
  /** Called once per request, inside its Context, with an object kept in a var for the request. */
  onRequestObject?: (obj: object) => void;
  /** Called from the error handler with what it sees. */
  onHandledError?: (seen: {
    id: string | undefined;
    value: string | undefined;
    message: string;
  }) => void;
}

/** An object per request, for leak checks: it lives exactly as long as the request's Context. */
export const requestObject = new ContextVar<object>('requestObject');

function setUp(headers: Record<string, unknown>, options: AppOptions): void {
  extractTraceContext(headers as Record<string, string>);
  const value = headers['x-value'];
  if (typeof value === 'string') requestValue.set(value);
  if (options.onRequestObject) {
    const obj = { payload: new Array(64).fill(0) };
    requestObject.set(obj);
    options.onRequestObject(obj);
  }
}

/** A server for `framework` with routes `POST /work`, `GET /work`, `GET /fail`, `GET /stream-fail`, `GET /sync`. */
export async function createApp(framework: Framework, options: AppOptions = {}): Promise<Server> {
  const logger = pino(
    { mixin: pinoMixin({ vars: { value: requestValue } }) },
    { write: options.log ?? (() => {}) },
  );
  const report = (err: Error) => {
    logger.error({ err: { message: err.message } }, 'request failed');
    options.onHandledError?.({
      id: requestId.get(undefined),
      value: requestValue.get(undefined),
      message: err.message,
    });
    if (requestValue.get(undefined) === 'error-handler-throws')
      throw new Error('the error handler failed too');
  };
  const respond = async () => {
    const seen = await work();
    logger.info(seen, 'work done');
    return seen;
  };

  if (framework === 'fastify') {
    const app = Fastify({ forceCloseConnections: true });
    if (!options.bare)
      await app.register(fastifyContextvars, { onRequest: (req) => setUp(req.headers, options) });
    app.addHook('preHandler', async (req) => {
      if (req.headers['x-fail'] === 'hook') throw new Error('hook failed');
    });
    app.addHook('preValidation', (req, _reply, done) => {
      if (req.headers['x-fail'] === 'sync-hook') throw new Error('sync hook failed');
      done();
    });
    app.post('/work', async () => respond());
    app.get('/work', async () => respond());
    app.get('/fail', async () => {
      await sleep(1);
      throw new Error('handler failed');
    });
    app.get('/sync', () => ({ id: requestId.get(undefined), value: requestValue.get(undefined) }));
    app.get('/stream-fail', async (_req, reply) => reply.send(failingStream(report)));
    app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
      report(err);
      reply.code(err.statusCode ?? 500).send({ error: err.message, id: requestId.get(undefined) });
    });
    await app.ready();
    return app.server;
  }

  if (framework === 'express') {
    const app = express();
    if (!options.bare)
      app.use(expressContextvars({ onRequest: (req) => setUp(req.headers, options) }));
    app.use(express.json());
    app.use((req, _res, next) => {
      if (req.headers['x-fail'] === 'sync-hook') throw new Error('sync hook failed');
      if (req.headers['x-fail'] === 'hook') next(new Error('hook failed'));
      else next();
    });
    app.post('/work', async (_req, res) => {
      res.json(await respond());
    });
    app.get('/work', async (_req, res) => {
      res.json(await respond());
    });
    app.get('/fail', async () => {
      await sleep(1);
      throw new Error('handler failed');
    });
    app.get('/sync', (_req, res) => {
      res.json({ id: requestId.get(undefined), value: requestValue.get(undefined) });
    });
    app.get('/stream-fail', (_req, res) => {
      const stream = failingStream(report);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    });
    app.use(
      (
        err: Error & { status?: number },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        report(err);
        res.status(err.status ?? 500).json({ error: err.message, id: requestId.get(undefined) });
      },
    );
    return createServer(app);
  }

  const app = new Koa();
  app.silent = true;
  if (!options.bare)
    app.use(koaContextvars({ onRequest: (ctx) => setUp(ctx.req.headers, options) }));
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { status?: number };
      report(err);
      ctx.status = err.status ?? 500;
      ctx.body = { error: err.message, id: requestId.get(undefined) };
    }
  });
  app.use(bodyParser());
  app.use(async (ctx) => {
    if (ctx.get('x-fail') === 'hook') throw new Error('hook failed');
    if (ctx.get('x-fail') === 'sync-hook') throw new Error('sync hook failed');
    if (ctx.path === '/work') ctx.body = await respond();
    else if (ctx.path === '/fail') {
      await sleep(1);
      throw new Error('handler failed');
    } else if (ctx.path === '/sync') {
      ctx.body = { id: requestId.get(undefined), value: requestValue.get(undefined) };
    } else if (ctx.path === '/stream-fail') {
      ctx.body = failingStream(report);
    } else {
      ctx.status = 404;
    }
  });
  return createServer(app.callback());
}
