import { createLogger } from '@contextvars/example-shared';
import { buildApp } from './app.js';

buildApp(createLogger()).listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
