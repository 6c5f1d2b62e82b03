import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent, createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { Context, ContextVar, requestId } from '@contextvars/core';
import { bodyParser } from '@koa/bodyparser';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  abortMidBody,
  abortMidResponse,
  close,
  collectedAll,
  HOSTILE_REQUEST_IDS,
  listen,
  postJson,
  send,
  sendChunked,
  settle,
  sleep,
  tracker,
} from '../../../test/support/http.js';
import { asyncContextFrames as frames } from '../../../test/support/runtime.js';
import contextvarsDefault, { contextvars } from '../src/index.js';

const user = new ContextVar<string>('user', { default: 'none' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const setUser = (ctx: any) => {
  user.set(String(ctx.req.headers['x-user'] ?? 'anon'));
};

type KoaApp = InstanceType<typeof Koa3>;
const versions: Array<[string, () => KoaApp]> = [
  ['Koa 3', () => new Koa3()],
  ['Koa 2', () => new Koa2() as unknown as KoaApp],
];

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s).catch(() => {});
});

async function start(app: KoaApp): Promise<string> {
  const server = createServer(app.callback());
  servers.push(server);
  return listen(server);
}

describe.each(versions)('%s', (_name, createApp) => {
  it('default export is the named export', () => {
    expect(contextvarsDefault).toBe(contextvars);
  });

  it('every request gets a new Context copied from where the server received it; keep-alive never leaks', async () => {
    const fromServer = new ContextVar<string>('fromServer');
    const app = createApp();
    const firstSaw: string[] = [];
    app.use(contextvars());
    app.use(async (_ctx, next) => {
      firstSaw.push(user.get());
      await next();
    });
    app.use(async (ctx) => {
      const before = user.get();
      user.set(ctx.path.slice(1));
      await sleep(1);
      ctx.body = { before, after: user.get(), fromServer: fromServer.get('missing') };
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
  });

  it('values reach later middleware, code after await next(), app.on("error") and ctx.res events', async () => {
    const seen: Record<string, string> = {};
    const record = (name: string) => {
      seen[name] = `${user.get()}|${requestId.get('?')}`;
    };
    const app = createApp();
    app.silent = true;
    app.on('error', () => record('app error'));
    app.use(
      contextvars({
        onRequest: async (ctx) => {
          await sleep(2);
          setUser(ctx);
        },
      }),
    );
    app.use(async (ctx, next) => {
      record('outer before');
      ctx.res.on('finish', () => record('res finish'));
      ctx.res.on('close', () => record('res close'));
      await next();
      record('outer after');
    });
    app.use(async (ctx) => {
      await sleep(1);
      record('handler');
      if (ctx.path === '/fail') throw new Error('boom');
      if (ctx.path === '/stream') {
        const body = new PassThrough();
        body.on('finish', () => record('stream body finish'));
        setTimeout(() => body.end('streamed'), 2);
        ctx.body = body;
        return;
      }
      ctx.body = 'ok';
    });
    const base = await start(app);
    await send(`${base}/ok`, { headers: { 'x-user': 'alice', 'x-request-id': 'r-ok' } });
    await sleep(10);
    for (const k of ['outer before', 'handler', 'outer after', 'res finish', 'res close']) {
      expect([k, seen[k]]).toEqual([k, 'alice|r-ok']);
    }
    const fail = await send(`${base}/fail`, {
      headers: { 'x-user': 'bob', 'x-request-id': 'r-fail' },
    });
    expect(fail.status).toBe(500);
    await sleep(10);
    expect(seen['app error']).toBe('bob|r-fail');
    expect(fail.headers['x-request-id']).toBe('r-fail');
    const streamed = await send(`${base}/stream`, {
      headers: { 'x-user': 'carol', 'x-request-id': 'r-stream' },
    });
    expect(streamed.body).toBe('streamed');
    await sleep(10);
    expect(seen['res finish']).toBe('carol|r-stream');
  });

  it('bodies: @koa/bodyparser (json, form, text) and a body read by hand', async () => {
    const app = createApp();
    app.use(contextvars({ onRequest: setUser }));
    app.use(async (ctx, next) => {
      if (ctx.path !== '/manual') return next();
      const parts: string[] = [];
      await new Promise<void>((resolve) => {
        ctx.req.on('data', (c: Buffer) => parts.push(`${c}:${user.get()}`));
        ctx.req.on('end', () => resolve());
      });
      ctx.body = { parts, user: user.get() };
    });
    app.use(bodyParser({ enableTypes: ['json', 'form', 'text'] }));
    app.use(async (ctx) => {
      ctx.body = { body: (ctx.request as any).body, user: user.get() };
    });
    const base = await start(app);
    const [json, form, text, manual] = await Promise.all([
      postJson(`${base}/`, { a: 1 }, { 'x-user': 'json' }),
      send(`${base}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-user': 'form' },
        body: 'a=1',
      }),
      sendChunked(`${base}/`, ['t', 'x', 't'], { 'content-type': 'text/plain', 'x-user': 'text' }),
      sendChunked(`${base}/manual`, ['m1', 'm2'], {
        'content-type': 'application/x-unknown',
        'x-user': 'manual',
      }),
    ]);
    expect(json.json()).toEqual({ body: { a: 1 }, user: 'json' });
    expect(form.json()).toEqual({ body: { a: '1' }, user: 'form' });
    expect(text.json()).toEqual({ body: 'txt', user: 'text' });
    expect(manual.json().user).toBe('manual');
    expect(manual.json().parts.every((p: string) => p.endsWith(':manual'))).toBe(true);
  });

  it('request id: valid kept and echoed; hostile replaced, never echoed, one header', async () => {
    const app = createApp();
    app.use(contextvars());
    app.use(async (ctx) => {
      ctx.body = { id: requestId.get() };
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

  it('a GET that Koa answers outside the Context: Node’s own end listener re-enters without AsyncLocalStorage.run where frames exist', async () => {
    const app = createApp();
    app.use(contextvars({ onRequest: setUser }));
    app.use(async (ctx) => {
      ctx.body = { user: user.get() };
    });
    const base = await start(app);
    const run = vi.spyOn(AsyncLocalStorage.prototype, 'run');
    const users: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        users.push((await send(`${base}/`, { headers: { 'x-user': `u${i}` } })).json().user);
      }
      await settle();
      // One run enters each request; on Node 20/22 (no frames) Node's 'end' listener,
      // added when Koa finished the response, re-enters with a second.
      expect(run.mock.calls.length).toBe(frames ? 5 : 10);
    } finally {
      run.mockRestore();
    }
    expect(users).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });

  it('options: header name, generator, echo off; a rejected onRequest is Koa’s error response', async () => {
    const app = createApp();
    app.silent = true;
    app.use(
      contextvars({
        requestIdHeader: 'x-trace',
        generateRequestId: () => 'generated',
        echoRequestId: false,
        onRequest: async (ctx: any) => {
          if (ctx.req.headers['x-fail']) ctx.throw(401, 'nope');
        },
      }),
    );
    app.use(async (ctx) => {
      ctx.body = { id: requestId.get() };
    });
    const base = await start(app);
    const kept = await send(`${base}/`, { headers: { 'x-trace': 't-1' } });
    expect(kept.json().id).toBe('t-1');
    expect(kept.headers['x-trace']).toBeUndefined();
    expect((await send(`${base}/`)).json().id).toBe('generated');
    expect((await send(`${base}/`, { headers: { 'x-fail': '1' } })).status).toBe(401);
  });

  it('error responses: each app keeps its own echo setting; no prototype is patched', async () => {
    const make = (echoRequestId: boolean) => {
      const app = createApp();
      app.silent = true;
      app.use(contextvars({ echoRequestId, requestIdHeader: 'x-id' }));
      app.use(async () => {
        throw new Error('boom');
      });
      return app;
    };
    const echoing = make(true);
    const silent = make(false);
    const onerrorBefore = Object.getOwnPropertyDescriptor(echoing.context, 'onerror');
    const [a, b] = [await start(echoing), await start(silent)];
    const fromEchoing = await send(`${a}/`, { headers: { 'x-id': 'kept-1' } });
    const fromSilent = await send(`${b}/`, { headers: { 'x-id': 'kept-2' } });
    expect([fromEchoing.status, fromSilent.status]).toEqual([500, 500]);
    expect(fromEchoing.headers['x-id']).toBe('kept-1');
    expect(fromSilent.headers['x-id']).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(echoing.context, 'onerror')).toEqual(onerrorBefore);
  });

  it('onRequest: per-request initial values are fresh', async () => {
    const cart = new ContextVar<string[]>('cart');
    const app = createApp();
    app.use(contextvars({ onRequest: () => void cart.set([]) }));
    app.use(async (ctx) => {
      cart.get().push(ctx.path.slice(1));
      ctx.body = { cart: cart.get() };
    });
    const base = await start(app);
    expect((await send(`${base}/apple`)).json()).toEqual({ cart: ['apple'] });
    expect((await send(`${base}/pear`)).json()).toEqual({ cart: ['pear'] });
  });

  it('a pino middleware: every line of a request carries its id under 100 concurrent requests', async () => {
    const lines: any[] = [];
    const logger = pino(
      { mixin: () => ({ request_id: requestId.get(undefined), user: user.get() }) },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const app = createApp();
    app.use(contextvars({ onRequest: setUser }));
    app.use(async (ctx, next) => {
      await next();
      ctx.res.on('finish', () => logger.info({ status: ctx.status }, 'request completed'));
    });
    app.use(async (ctx) => {
      logger.info('inside');
      await sleep(Math.random() * 5);
      ctx.body = 'ok';
    });
    const base = await start(app);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(`${base}/`, { headers: { 'x-request-id': `r${i}`, 'x-user': `u${i}` } }),
      ),
    );
    await sleep(20);
    for (const msg of ['inside', 'request completed']) {
      const matching = lines.filter((l) => l.msg === msg);
      expect(matching).toHaveLength(100);
      for (const l of matching) expect(l.user).toBe(`u${l.request_id.slice(1)}`);
    }
  });

  it('concurrent requests never see each other’s values', async () => {
    const app = createApp();
    app.use(contextvars({ onRequest: setUser }));
    app.use(bodyParser());
    app.use(async (ctx) => {
      await sleep(Math.random() * 5);
      const before = user.get();
      await new Promise((r) => setImmediate(r));
      ctx.body = {
        before,
        after: user.get(),
        id: requestId.get(),
        body: (ctx.request as any).body,
      };
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
    const app = createApp();
    app.silent = true;
    app.use(
      contextvars({
        onRequest: () => {
          const obj = { big: new Array(100).fill(0) };
          track(obj);
          payload.set(obj);
        },
      }),
    );
    app.use(bodyParser());
    app.use(async (ctx) => {
      if (ctx.path === '/stream') {
        const body = new PassThrough();
        let n = 0;
        const timer = setInterval(() => {
          body.write(`chunk ${n++} ${'x'.repeat(1000)}\n`);
          if (n > 50) {
            clearInterval(timer);
            body.end();
          }
        }, 2);
        body.on('close', () => clearInterval(timer));
        ctx.body = body;
        return;
      }
      ctx.body = { ok: true };
    });
    const base = await start(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => postJson(`${base}/`, { i })),
        ...Array.from({ length: 5 }, () => send(`${base}/`, { agent })),
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
