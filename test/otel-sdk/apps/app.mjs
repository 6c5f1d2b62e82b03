// The ESM app, with the OpenTelemetry setup preloaded as CommonJS:
// `node --require ./otel.cjs app.mjs`. Our packages and the frameworks are ESM imports.
import * as core from '@contextvars/core';
import * as bridge from '@contextvars/otel-bridge';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import build from './build.cjs';

const name = process.env.FRAMEWORK;
const adapters = {
  fastify: async () => [await import('@contextvars/fastify'), (await import('fastify')).default],
  express: async () => [await import('@contextvars/express'), (await import('express')).default],
  koa: async () => [await import('@contextvars/koa'), (await import('koa')).default],
};
const [adapter, framework] = await adapters[name]();
await build.main(name, { core, bridge, adapter, framework, pino, pinoHttp });
