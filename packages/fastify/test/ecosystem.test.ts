import { ContextVar, requestId } from '@contextvars/core';
import fastifyExpress from '@fastify/express';
import middie from '@fastify/middie';
import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import FormData from 'form-data';
import { afterEach, describe, expect, it } from 'vitest';
import { close, listen, postForm, send, sleep } from '../../../test/support/http.js';
import { contextvars } from '../src/index.js';

const user = new ContextVar<string>('user', { default: 'none' });
const apps: Array<ReturnType<typeof Fastify>> = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await close(app.server).catch(() => {});
});

async function start(app: ReturnType<typeof Fastify>) {
  apps.push(app);
  await app.ready();
  return listen(app.server);
}

describe('Fastify ecosystem', () => {
  it('@fastify/multipart: file streams and fields are read in the request context', async () => {
    const app = Fastify();
    await app.register(contextvars, {
      onRequest: (req) => void user.set(String(req.headers['x-user'])),
    });
    await app.register(multipart);
    app.post('/upload', async (req) => {
      const seen: string[] = [];
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          for await (const chunk of part.file)
            seen.push(`file ${part.fieldname} ${chunk.length}:${user.get()}`);
        } else {
          seen.push(`field ${part.fieldname}:${user.get()}`);
        }
        await sleep(1);
      }
      return { seen, user: user.get(), id: requestId.get() };
    });
    const base = await start(app);
    const results = await Promise.all(
      ['u1', 'u2', 'u3'].map((u) => {
        const form = new FormData();
        form.append('name', u);
        form.append('doc', Buffer.alloc(200_000, u), { filename: `${u}.bin` });
        return postForm(`${base}/upload`, form, { 'x-user': u });
      }),
    );
    results.forEach((r, i) => {
      const u = `u${i + 1}`;
      expect(r.user).toBe(u);
      expect(r.seen.length).toBeGreaterThan(1);
      for (const line of r.seen) expect(line.endsWith(`:${u}`)).toBe(true);
    });
  });

  it('@fastify/express and @fastify/middie: Express-style middleware sees the request values', async () => {
    for (const [name, plugin] of [
      ['@fastify/express', fastifyExpress],
      ['@fastify/middie', middie],
    ] as const) {
      const app = Fastify();
      await app.register(contextvars, {
        onRequest: (req) => void user.set(String(req.headers['x-user'])),
      });
      await app.register(plugin as never);
      (app as any).use((req: any, _res: any, next: () => void) => {
        req.seenByMiddleware = `${user.get()}|${requestId.get()}`;
        setTimeout(next, 2);
      });
      app.get('/', async (req) => ({
        middleware: (req.raw as any).seenByMiddleware,
        handler: user.get(),
      }));
      const base = await start(app);
      const res = await send(`${base}/`, { headers: { 'x-user': name, 'x-request-id': 'mw-1' } });
      expect(res.json()).toEqual({ middleware: `${name}|mw-1`, handler: name });
    }
  });

  it('Fastify’s logger: every line of a request, "request completed" included, carries its id', async () => {
    const lines: any[] = [];
    const app = Fastify({
      logger: {
        level: 'info',
        stream: { write: (line: string) => lines.push(JSON.parse(line)) },
        mixin: () => ({ request_id: requestId.get(undefined), user: user.get() }),
      },
    });
    await app.register(contextvars, {
      onRequest: (req) => void user.set(String(req.headers['x-user'])),
    });
    app.get('/', async (req) => {
      req.log.info('first');
      await sleep(Math.random() * 5);
      app.log.info('via the app logger');
      return 'ok';
    });
    const base = await start(app);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(`${base}/`, { headers: { 'x-request-id': `r${i}`, 'x-user': `u${i}` } }),
      ),
    );
    await sleep(20);
    for (const msg of ['first', 'via the app logger', 'request completed']) {
      const matching = lines.filter((l) => l.msg === msg);
      expect(matching).toHaveLength(100);
      for (const l of matching) {
        expect(l.request_id).toMatch(/^r\d+$/);
        expect(l.user).toBe(`u${l.request_id.slice(1)}`);
        if (l.reqId !== undefined) expect(l.reqId).toBe(l.request_id);
      }
    }
  });
});
