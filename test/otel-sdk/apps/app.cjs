// The CommonJS app: `node --require ./otel.cjs app.cjs`.
'use strict';
const { main } = require('./build.cjs');

const name = process.env.FRAMEWORK;
const adapters = {
  fastify: () => [require('@contextvars/fastify'), require('fastify')],
  express: () => [require('@contextvars/express'), require('express')],
  koa: () => [require('@contextvars/koa'), require('koa')],
};
const [adapter, framework] = adapters[name]();
main(name, {
  core: require('@contextvars/core'),
  bridge: require('@contextvars/otel-bridge'),
  adapter,
  framework,
  pino: require('pino'),
  pinoHttp: require('pino-http').pinoHttp,
});
