import { createServer } from 'node:http';
import { requestId } from '@contextvars/core';
import { authenticate, createOrder, currentUser, greet } from '@contextvars/example-shared';
import { contextvars } from '@contextvars/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';

/** The example app: `app.use(contextvars(...))` is the only context-specific line. */
export function buildApp(logger: Logger) {
  const app = express();
  app.use(
    contextvars({
      onRequest: async (req) => {
        currentUser.set(await authenticate(req.headers.authorization));
      },
    }),
  );
  app.use(express.json());

  app.get('/hello', (_req, res) => {
    res.json(greet());
  });
  app.post('/orders', async (req, res) => {
    res.status(201).json(await createOrder(req.body));
  });
  app.get('/fail', async () => {
    throw new Error('something broke');
  });

  app.use(
    (error: Error & { statusCode?: number }, _req: Request, res: Response, _next: NextFunction) => {
      logger.error({ err: error }, 'request failed'); // carries this request's id
      res
        .status(error.statusCode ?? 500)
        .json({ error: error.message, requestId: requestId.get() });
    },
  );
  return createServer(app);
}
