import { createLogger } from '@contextvars/example-shared';
import { buildApp } from './app.js';

const server = await buildApp(createLogger());
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
