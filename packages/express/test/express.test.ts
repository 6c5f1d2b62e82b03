import { Agent } from 'node:http';
import { Context, ContextVar, requestId } from '@contextvars/core';
import busboy from 'busboy';
import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import FormData from 'form-data';
import multer from 'multer';
import passport from 'passport';
import { Strategy as CustomStrategy } from 'passport-custom';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  abortMidBody,
  abortMidResponse,
  close,
  collectedAll,
  HOSTILE_REQUEST_IDS,
  listen,
  postForm,
  postJson,
  send,
  sendChunked,
  settle,
  sleep,
  tracker,
} from '../../../test/support/http.js';
import contextvarsDefault, { contextvars } from '../src/index.js';

const user = new ContextVar<string>('user', { default: 'none' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const setUser = (req: { headers: Record<string, unknown> }) => {
  user.set(String(req.headers['x-user'] ?? 'anon'));
};

type Express = typeof express5;
const versions: Array<[string, Express, boolean]> = [
  ['Express 5', express5, true],
  ['Express 4', express4 as unknown as Express, false],
];

const servers: Array<import('node:http').Server> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s).catch(() => {});
});

async function start(app: ReturnType<Express>): Promise<string> {
  const server = (await import('node:http')).createServer(app);
  servers.push(server);
  return listen(server);
}

describe.each(versions)('%s', (_name, express, catchesAsyncErrors) => {
  it('default export is the named export', () => {
    expect(contextvarsDefault).toBe(contextvars);
  });

  it('every request gets a new Context copied from where the server received it; keep-alive never leaks', async () => {
    const fromServer = new ContextVar<string>('fromServer');
    const app = express();
    const firstSaw: string[] = [];
    app.use(contextvars());
    app.use((_req, _res, next) => {
      firstSaw.push(user.get());
      next();
    });
    app.get('/:name', async (req, res) => {
      const before = user.get();
      user.set(req.params.name!);
      await sleep(1);
      res.json({ before, after: user.get(), fromServer: fromServer.get('missing') });
    });
    const serverCtx = new Context();
    const base = await serverCtx.run(() => {
      fromServer.set('server value');
      return start(app);
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const name of ['a', 'b', 'c']) {
        expect((await send(`${base}/${name}`, { agent })).json()).toEqual({
          before: 'none',
          after: name,
          fromServer: 'server value',
        });
      }
    } finally {
      agent.destroy();
    }
    expect(firstSaw).toEqual(['none', 'none', 'none']);
    expect(serverCtx.get(user)).toBeUndefined();
  });

  it('values reach every later middleware, the route, error middleware and res.on("finish")', async () => {
    const seen: Record<string, string> = {};
    const record = (name: string) => {
      seen[name] = `${user.get()}|${requestId.get('?')}`;
    };
    const app = express();
    app.use(
      contextvars({
        onRequest: async (req) => {
          await sleep(2);
          setUser(req as never);
        },
      }),
    );
    app.use((_req, res, next) => {
      record('middleware');
      res.on('finish', () => record('finish'));
      res.on('close', () => record('close'));
      setTimeout(next, 1);
    });
    app.get('/ok', (_req, res) => {
      record('route');
      res.send('ok');
    });
    app.get('/next-err', (_req, _res, next) => {
      setTimeout(() => next(new Error('async via next')), 1);
    });
    app.get('/throw', async () => {
      await sleep(1);
      throw new Error('async throw');
    });
    app.use((err: Error, _req: unknown, res: any, _next: unknown) => {
      record(`error:${err.message}`);
      res.status(500).json({ error: err.message });
    });
    const base = await start(app);
    await send(`${base}/ok`, { headers: { 'x-user': 'alice', 'x-request-id': 'r-ok' } });
    await sleep(10);
    expect(seen).toMatchObject({
      middleware: 'alice|r-ok',
      route: 'alice|r-ok',
      finish: 'alice|r-ok',
      close: 'alice|r-ok',
    });
    const viaNext = await send(`${base}/next-err`, {
      headers: { 'x-user': 'bob', 'x-request-id': 'r-next' },
    });
    expect(viaNext.status).toBe(500);
    expect(viaNext.headers['x-request-id']).toBe('r-next');
    expect(seen['error:async via next']).toBe('bob|r-next');
    if (catchesAsyncErrors) {
      const thrown = await send(`${base}/throw`, {
        headers: { 'x-user': 'carol', 'x-request-id': 'r-throw' },
      });
      expect(thrown.status).toBe(500);
      expect(seen['error:async throw']).toBe('carol|r-throw');
    }
  });

  for (const placement of ['before', 'after'] as const) {
    it(`bodies with the middleware ${placement} the body parsers: json, urlencoded, text, raw, read by hand`, async () => {
      const app = express();
      const parsers = [
        express.json(),
        express.urlencoded({ extended: false }),
        express.text(),
        express.raw({ type: 'application/octet-stream' }),
      ];
      if (placement === 'before') app.use(contextvars({ onRequest: setUser as never }), ...parsers);
      else app.use(...parsers, contextvars({ onRequest: setUser as never }));
      app.post('/parsed', (req, res) => {
        res.json({
          body: Buffer.isBuffer(req.body) ? req.body.toString() : req.body,
          user: user.get(),
        });
      });
      app.post('/manual', (req, res) => {
        const parts: string[] = [];
        req.on('data', (c: Buffer) => parts.push(`${c}:${user.get()}`));
        req.on('end', () => res.json({ parts, user: user.get() }));
      });
      const base = await start(app);
      const results = await Promise.all([
        postJson(`${base}/parsed`, { a: 1 }, { 'x-user': 'json' }),
        send(`${base}/parsed`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-user': 'form' },
          body: 'a=1&b=2',
        }),
        send(`${base}/parsed`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'x-user': 'text' },
          body: 'hello',
        }),
        sendChunked(`${base}/parsed`, ['r', 'a', 'w'], {
          'content-type': 'application/octet-stream',
          'x-user': 'raw',
        }),
        sendChunked(`${base}/manual`, ['m1', 'm2', 'm3'], {
          'content-type': 'application/x-unknown',
          'x-user': 'manual',
        }),
      ]);
      expect(results.map((r) => r.json().user)).toEqual(['json', 'form', 'text', 'raw', 'manual']);
      expect(results[0]!.json().body).toEqual({ a: 1 });
      expect(results[1]!.json().body).toEqual({ a: '1', b: '2' });
      expect(results[3]!.json().body).toBe('raw');
      expect(results[4]!.json().parts.every((p: string) => p.endsWith(':manual'))).toBe(true);
    });
  }

  it('multipart: multer and busboy read uploads in the request context', async () => {
    const app = express();
    app.use(contextvars({ onRequest: setUser as never }));
    const upload = multer({
      storage: multer.memoryStorage(),
      fileFilter: (_req, _file, cb) => {
        (_req as any).filterUser = user.get();
        cb(null, true);
      },
    });
    app.post('/multer', upload.single('doc'), (req: any, res) => {
      res.json({
        user: user.get(),
        filterUser: req.filterUser,
        size: req.file.size,
        name: req.body.name,
      });
    });
    app.post('/busboy', (req, res) => {
      const seen: string[] = [];
      const bb = busboy({ headers: req.headers });
      bb.on('file', (_name, file) => {
        file.on('data', () => seen.push(`data:${user.get()}`));
        file.on('end', () => seen.push(`end:${user.get()}`));
      });
      bb.on('field', (name) => seen.push(`field ${name}:${user.get()}`));
      bb.on('close', () => res.json({ seen, user: user.get() }));
      req.pipe(bb);
    });
    const base = await start(app);
    const forms = ['m1', 'm2'].map((u) => {
      const form = new FormData();
      form.append('name', u);
      form.append('doc', Buffer.alloc(300_000, u), { filename: `${u}.bin` });
      return postForm(`${base}/multer`, form, { 'x-user': u });
    });
    const bbs = ['b1', 'b2'].map((u) => {
      const form = new FormData();
      form.append('name', u);
      form.append('doc', Buffer.alloc(300_000, u), { filename: `${u}.bin` });
      return postForm(`${base}/busboy`, form, { 'x-user': u });
    });
    const [m1, m2, b1, b2] = await Promise.all([...forms, ...bbs]);
    expect([m1.user, m1.filterUser, m1.name, m1.size]).toEqual(['m1', 'm1', 'm1', 300_000]);
    expect([m2.user, m2.filterUser, m2.name]).toEqual(['m2', 'm2', 'm2']);
    for (const [r, u] of [
      [b1, 'b1'],
      [b2, 'b2'],
    ] as const) {
      expect(r.user).toBe(u);
      expect(r.seen.length).toBeGreaterThan(2);
      for (const s of r.seen) expect(s.endsWith(`:${u}`)).toBe(true);
    }
  });

  it('express-session and passport: their callbacks and what follows keep the request context', async () => {
    const app = express();
    app.use(contextvars({ onRequest: setUser as never }));
    app.use(session({ secret: 'test', resave: false, saveUninitialized: true }));
    const pp = new passport.Passport();
    pp.use(
      'header',
      new CustomStrategy((req, done) => {
        const seenInVerify = user.get();
        setTimeout(() => done(null, { name: req.headers['x-user'], seenInVerify }), 2);
      }),
    );
    const serialized: string[] = [];
    pp.serializeUser((u: any, done) =>
      setImmediate(() => {
        serialized.push(`${u.name}:${user.get()}`);
        done(null, JSON.stringify(u));
      }),
    );
    pp.deserializeUser((s: string, done) => done(null, JSON.parse(s)));
    app.use(pp.initialize());
    app.use(pp.session());
    app.get('/login', pp.authenticate('header'), (req: any, res) => {
      req.session.visits = (req.session.visits ?? 0) + 1;
      res.json({ user: user.get(), passportUser: req.user, afterSession: user.get() });
    });
    const base = await start(app);
    const results = await Promise.all(
      ['p1', 'p2', 'p3'].map((u) => send(`${base}/login`, { headers: { 'x-user': u } })),
    );
    results.forEach((r, i) => {
      const u = `p${i + 1}`;
      const body = r.json();
      expect(body.user).toBe(u);
      expect(body.passportUser.name).toBe(u);
      expect(body.passportUser.seenInVerify).toBe(u);
    });
    expect(serialized.sort()).toEqual(['p1:p1', 'p2:p2', 'p3:p3']);
  });

  it('request id: valid kept and echoed; hostile replaced, never echoed, one header', async () => {
    const app = express();
    app.use(contextvars());
    app.get('/', (_req, res) => {
      res.json({ id: requestId.get() });
    });
    const base = await start(app);
    const ok = await send(`${base}/`, { headers: { 'x-request-id': 'abc-123' } });
    expect(ok.json().id).toBe('abc-123');
    expect(ok.headers['x-request-id']).toBe('abc-123');
    for (const [, hostile] of HOSTILE_REQUEST_IDS) {
      const res = await send(`${base}/`, { headers: { 'x-request-id': hostile } });
      expect(res.json().id).toMatch(UUID);
      expect(res.headers['x-request-id']).toBe(res.json().id);
      expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).toHaveLength(1);
    }
  });

  it('options: header name, generator, echo off', async () => {
    const app = express();
    app.use(
      contextvars({
        requestIdHeader: 'X-Trace',
        generateRequestId: () => 'generated',
        echoRequestId: false,
      }),
    );
    app.get('/', (_req, res) => {
      res.json({ id: requestId.get() });
    });
    const base = await start(app);
    const kept = await send(`${base}/`, { headers: { 'x-trace': 't-1' } });
    expect(kept.json().id).toBe('t-1');
    expect(kept.headers['x-trace']).toBeUndefined();
    expect((await send(`${base}/`)).json().id).toBe('generated');
    expect(() => contextvars({ requestIdHeader: 'a b' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('onRequest: fresh per-request values; a rejected hook reaches the error middleware', async () => {
    const cart = new ContextVar<string[]>('cart');
    const app = express();
    app.use(
      contextvars({
        onRequest: async (req) => {
          if (req.headers['x-fail']) throw new Error('denied');
          cart.set([]);
        },
      }),
    );
    app.get('/add/:item', (req, res) => {
      cart.get().push(req.params.item!);
      res.json({ cart: cart.get() });
    });
    app.use((err: Error, _req: unknown, res: any, _next: unknown) => {
      res.status(403).json({ error: err.message, id: requestId.get() });
    });
    const base = await start(app);
    expect((await send(`${base}/add/apple`)).json()).toEqual({ cart: ['apple'] });
    expect((await send(`${base}/add/pear`)).json()).toEqual({ cart: ['pear'] });
    const denied = await send(`${base}/add/x`, {
      headers: { 'x-fail': '1', 'x-request-id': 'denied-1' },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-request-id']).toBe('denied-1');
    expect(denied.json()).toEqual({ error: 'denied', id: 'denied-1' });
  });

  it('pino-http: "request completed" and every line of a request carry its id under 100 concurrent requests', async () => {
    const lines: any[] = [];
    const logger = pino(
      { mixin: () => ({ request_id: requestId.get(undefined), user: user.get() }) },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const app = express();
    app.use(contextvars({ onRequest: setUser as never }));
    app.use(express.json());
    app.use(pinoHttp({ logger, genReqId: () => requestId.get() }));
    app.post('/', async (req: any, res) => {
      req.log.info('inside');
      await sleep(Math.random() * 5);
      logger.info('module logger');
      res.json({ ok: true });
    });
    const base = await start(app);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        postJson(`${base}/`, { i }, { 'x-request-id': `r${i}`, 'x-user': `u${i}` }),
      ),
    );
    await sleep(20);
    for (const msg of ['inside', 'module logger', 'request completed']) {
      const matching = lines.filter((l) => l.msg === msg);
      expect(matching).toHaveLength(100);
      for (const l of matching) {
        expect(l.request_id).toMatch(/^r\d+$/);
        expect(l.user).toBe(`u${l.request_id.slice(1)}`);
        if (l.req?.id !== undefined) expect(l.req.id).toBe(l.request_id);
      }
    }
  });

  it('concurrent requests never see each other’s values', async () => {
    const app = express();
    app.use(express.json());
    app.use(contextvars({ onRequest: setUser as never }));
    app.post('/', async (req, res) => {
      await sleep(Math.random() * 5);
      const before = user.get();
      await new Promise((r) => setImmediate(r));
      res.json({ before, after: user.get(), id: requestId.get(), body: req.body });
    });
    const base = await start(app);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        postJson(`${base}/`, { i }, { 'x-user': `user-${i}`, 'x-request-id': `id-${i}` }).then(
          (r) => r.json(),
        ),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r).toEqual({ before: `user-${i}`, after: `user-${i}`, id: `id-${i}`, body: { i } });
    }
  });

  it('nothing of a request is retained after it ends, aborted ones included', async () => {
    const { alive, track } = tracker();
    const payload = new ContextVar<object>('payload');
    const app = express();
    app.use(
      contextvars({
        onRequest: () => {
          const obj = { big: new Array(100).fill(0) };
          track(obj);
          payload.set(obj);
        },
      }),
    );
    app.use(express.json());
    app.post('/', (req, res) => {
      res.json({ ok: Boolean(req.body) });
    });
    app.get('/stream', (_req, res) => {
      let n = 0;
      const timer = setInterval(() => {
        res.write(`chunk ${n++} ${'x'.repeat(1000)}\n`);
        if (n > 50) {
          clearInterval(timer);
          res.end();
        }
      }, 2);
      res.on('close', () => clearInterval(timer));
    });
    const base = await start(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => postJson(`${base}/`, { i })),
        ...Array.from({ length: 5 }, () =>
          send(`${base}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
            agent,
          }),
        ),
        abortMidBody(`${base}/`),
        abortMidResponse(`${base}/stream`),
      ]);
    }
    agent.destroy();
    await settle();
    expect(await collectedAll(alive)).toBe(true);
    expect(servers[0]!.listenerCount('request')).toBe(1);
  });
});
