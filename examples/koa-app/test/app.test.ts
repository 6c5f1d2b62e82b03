import { createLogger } from '@contextvars/example-shared';
import { exampleSuite } from '@contextvars/example-shared/suite';
import { buildApp } from '../src/app.js';

exampleSuite('koa', async (destination) => buildApp(createLogger(destination)));
