import { createLogger } from '@contextvars/example-shared';
import { exampleSuite } from '@contextvars/example-shared/suite';
import { buildApp } from '../src/app.js';

exampleSuite('nestjs', (destination) => buildApp(createLogger(destination)));
