import { createServer } from 'node:http';
import { requestId } from '@contextvars/core';
import { authenticate, createOrder, currentUser, greet } from '@contextvars/example-shared';
import { contextvars } from '@contextvars/koa';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type { Logger } from 'pino';

/** The example app: `app.use(contextvars(...))` is the only context-specific line. */
export function buildApp(logger: Logger) {
  const app = new Koa();
  app.use(
    contextvars({
      onRequest: async (ctx) => {
        currentUser.set(await authenticate(ctx.req.headers.authorization));
      },
    }),
  );
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { statusCode?: number };
      ctx.status = err.statusCode ?? 500;
      ctx.body = { error: err.message, requestId: requestId.get() };
      ctx.app.emit('error', err, ctx);
    }
  });
  app.use(bodyParser());
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/hello') ctx.body = greet();
    else if (ctx.method === 'POST' && ctx.path === '/orders') {
      ctx.status = 201;
      ctx.body = await createOrder(ctx.request.body as object);
    } else if (ctx.path === '/fail') throw new Error('something broke');
    else ctx.status = 404;
  });
  // Runs in the failing request's Context: the line carries its id.
  app.on('error', (err) => logger.error({ err }, 'request failed'));
  return createServer(app.callback());
}
