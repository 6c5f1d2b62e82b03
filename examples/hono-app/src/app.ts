import type { Server } from 'node:http';
import { requestId } from '@contextvars/core';
import { authenticate, createOrder, currentUser, greet } from '@contextvars/example-shared';
import { contextvars } from '@contextvars/hono';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Logger } from 'pino';

/**
 * The example app: `app.use(contextvars(...))` is the only context-specific line.
 * Nothing here is Node-only: Bun and Deno serve `createApp(logger).fetch` as it is.
 */
export function createApp(logger: Logger) {
  const app = new Hono();
  app.use(
    contextvars({
      onRequest: async (c) => {
        currentUser.set(await authenticate(c.req.header('authorization')));
      },
    }),
  );

  app.get('/hello', (c) => c.json(greet()));
  app.post('/orders', async (c) => c.json(await createOrder(await c.req.json()), 201));
  app.get('/fail', async () => {
    throw new Error('something broke');
  });
  // Each event is written after an await, long after the handler returned.
  app.get('/countdown', (c) =>
    streamSSE(c, async (stream) => {
      for (let n = 3; n > 0; n--) {
        await stream.sleep(5);
        await stream.writeSSE({ data: `${n} for ${currentUser.get()?.name ?? 'stranger'}` });
      }
    }),
  );

  app.onError((error, c) => {
    logger.error({ err: error }, 'request failed'); // carries this request's id
    const status = (error as { statusCode?: number }).statusCode === 400 ? 400 : 500;
    return c.json({ error: error.message, requestId: requestId.get() }, status);
  });
  return app;
}

/** The app on Node, through `@hono/node-server`. */
export function buildApp(logger: Logger): Server {
  return createAdaptorServer({ fetch: createApp(logger).fetch }) as Server;
}
