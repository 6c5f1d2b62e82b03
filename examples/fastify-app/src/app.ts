import { requestId } from '@contextvars/core';
import { authenticate, createOrder, currentUser, greet } from '@contextvars/example-shared';
import { contextvars, genReqId } from '@contextvars/fastify';
import Fastify from 'fastify';
import type { Logger } from 'pino';

/** The example app: two lines for context (`register`), the rest is an ordinary Fastify app. */
export async function buildApp(logger: Logger) {
  const app = Fastify({ loggerInstance: logger, genReqId: genReqId() });
  await app.register(contextvars);

  // Authentication, async: what it sets is visible to the whole request.
  app.addHook('onRequest', async (request) => {
    currentUser.set(await authenticate(request.headers.authorization));
  });

  app.get('/hello', async () => greet());
  app.post('/orders', async (request, reply) =>
    reply.code(201).send(await createOrder(request.body as object)),
  );
  app.get('/fail', async () => {
    throw new Error('something broke');
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    request.log.error({ err: error }, 'request failed'); // carries this request's id
    reply.code(error.statusCode ?? 500).send({ error: error.message, requestId: requestId.get() });
  });
  return app;
}
