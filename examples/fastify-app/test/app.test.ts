import { createLogger } from '@contextvars/example-shared';
import { exampleSuite } from '@contextvars/example-shared/suite';
import { buildApp } from '../src/app.js';

exampleSuite('fastify', async (destination) => {
  const app = await buildApp(createLogger(destination));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
});
