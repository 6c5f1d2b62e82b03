// One server for the HTTP benchmark: `node http-server.mjs <framework> <variant>`.
// Frameworks: fastify, express, koa. Variants: bare, contextvars (3 vars set per
// request in the adapter's onRequest, read in the handler). Prints the port when ready.
import { ContextVar } from '@contextvars/core';

const [framework, variant] = process.argv.slice(2);
const withVars = variant === 'contextvars';
const a = new ContextVar('a');
const b = new ContextVar('b');
const c = new ContextVar('c');
const setVars = () => {
  a.set('tenant-1');
  b.set(42);
  c.set('user-7');
};
const payload = () =>
  withVars ? { hello: 'world', a: a.get(), b: b.get(), c: c.get() } : { hello: 'world' };

async function fastifyServer() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (withVars) {
    const { contextvars } = await import('@contextvars/fastify');
    await app.register(contextvars, { onRequest: setVars });
  }
  app.get('/', async () => payload());
  app.post('/', async (req) => ({ ...payload(), size: Object.keys(req.body).length }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

async function expressServer() {
  const { default: express } = await import('express');
  const app = express();
  if (withVars) {
    const { contextvars } = await import('@contextvars/express');
    app.use(contextvars({ onRequest: setVars }));
  }
  app.use(express.json());
  app.get('/', (_req, res) => res.json(payload()));
  app.post('/', (req, res) => res.json({ ...payload(), size: Object.keys(req.body).length }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

async function koaServer() {
  const { default: Koa } = await import('koa');
  const { bodyParser } = await import('@koa/bodyparser');
  const app = new Koa();
  if (withVars) {
    const { contextvars } = await import('@contextvars/koa');
    app.use(contextvars({ onRequest: setVars }));
  }
  app.use(bodyParser());
  app.use(async (ctx) => {
    ctx.body =
      ctx.method === 'POST'
        ? { ...payload(), size: Object.keys(ctx.request.body).length }
        : payload();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

const servers = { fastify: fastifyServer, express: expressServer, koa: koaServer };
if (!servers[framework] || !['bare', 'contextvars'].includes(variant)) {
  console.error('usage: node http-server.mjs <fastify|express|koa> <bare|contextvars>');
  process.exit(2);
}
const port = await servers[framework]();
console.log(`PORT ${port}`);
process.on('SIGTERM', () => process.exit(0));
