import { Agent } from 'node:http';
import { Context, ContextVar, InvalidArgTypeError, requestId, wrap } from '@contextvars/core';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { stream, streamSSE } from 'hono/streaming';
import { describe, expect, it } from 'vitest';
import {
  HOSTILE_REQUEST_IDS,
  postJson,
  RAW_HOSTILE_REQUEST_IDS,
  rawRequest,
  send,
  sendChunked,
  sleep,
} from '../../../test/support/http.js';
import contextvarsDefault, { contextvars, requestId as reexported } from '../src/index.js';
import { NODE_SERVERS, readLines, start, UUID } from './support.js';

const user = new ContextVar<string>('user', { default: 'none' });
const step = new ContextVar<string>('step', { default: 'none' });
const setUser = (c: { req: { header(name: string): string | undefined } }) => {
  user.set(c.req.header('x-user') ?? 'anon');
};
/** What the current Context holds, as a handler reports it. */
const seen = () => ({ id: requestId.get(undefined), user: user.get(), step: step.get() });

describe('exports', () => {
  it('the default export is the named one; requestId is the core var', () => {
    expect(contextvarsDefault).toBe(contextvars);
    expect(reexported).toBe(requestId);
  });

  it('options of the wrong type throw ERR_INVALID_ARG_TYPE', () => {
    for (const bad of [
      { requestIdHeader: 'bad header' },
      { requestIdHeader: 42 },
      { generateRequestId: 'x' },
      { onRequest: {} },
      { echoRequestId: 'yes' },
    ]) {
      expect(() => contextvars(bad as never)).toThrow(InvalidArgTypeError);
    }
    expect(() => contextvars(null as never)).toThrow(InvalidArgTypeError);
  });
});

describe.each(NODE_SERVERS)('on %s', (_name, factory) => {
  it('every request gets a new Context copied from where the server received it; keep-alive never leaks', async () => {
    const fromServer = new ContextVar<string>('fromServer');
    const app = new Hono();
    const firstSaw: string[] = [];
    app.use(contextvars());
    app.use(async (_c, next) => {
      firstSaw.push(user.get());
      await next();
    });
    app.get('/:name', async (c) => {
      const before = user.get();
      user.set(c.req.param('name'));
      await sleep(1);
      return c.json({ before, after: user.get(), fromServer: fromServer.get('missing') });
    });
    const serverCtx = new Context();
    const base = await serverCtx.run(() => {
      fromServer.set('server value');
      return start(app, factory);
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

  it('what onRequest and later middleware set reaches the handler and the code after await next()', async () => {
    const after: Array<ReturnType<typeof seen>> = [];
    const app = new Hono();
    app.use(
      contextvars({
        onRequest: async (c) => {
          await sleep(1); // set after an await: still the request's Context
          setUser(c);
        },
      }),
    );
    app.use(async (_c, next) => {
      step.set('middleware');
      await next();
      await sleep(1);
      after.push(seen());
    });
    app.get('/', async (c) => {
      await sleep(1);
      return c.json({ ...seen(), fromC: c.get('requestId') });
    });
    const base = await start(app, factory);
    const res = await send(`${base}/`, { headers: { 'x-user': 'ada', 'x-request-id': 'r-1' } });
    expect(res.json()).toEqual({ id: 'r-1', user: 'ada', step: 'middleware', fromC: 'r-1' });
    expect(after).toEqual([{ id: 'r-1', user: 'ada', step: 'middleware' }]);
  });

  it('app.onError sees the request: sync and async throws, HTTPException, a failing middleware', async () => {
    const errors: Array<ReturnType<typeof seen> & { message: string }> = [];
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.use('/mw', async () => {
      step.set('mw');
      throw new Error('middleware failed');
    });
    app.get('/sync', () => {
      throw new Error('sync');
    });
    app.get('/async', async () => {
      step.set('handler');
      await sleep(2);
      throw new Error('async');
    });
    app.get('/http', () => {
      throw new HTTPException(418, { message: 'teapot' });
    });
    app.onError(async (err, c) => {
      await sleep(1);
      errors.push({ ...seen(), message: err.message });
      if (err instanceof HTTPException) return err.getResponse();
      return c.json({ error: err.message, id: requestId.get() }, 500);
    });
    const base = await start(app, factory);
    for (const path of ['sync', 'async', 'mw', 'http']) {
      const res = await send(`${base}/${path}`, {
        headers: { 'x-user': path, 'x-request-id': `e-${path}` },
      });
      expect(res.status).toBe(path === 'http' ? 418 : 500);
      expect(res.headers['x-request-id']).toBe(`e-${path}`);
      if (path !== 'http')
        expect(res.json()).toEqual({
          error: path === 'mw' ? 'middleware failed' : path,
          id: `e-${path}`,
        });
    }
    expect(errors).toEqual([
      { id: 'e-sync', user: 'sync', step: 'none', message: 'sync' },
      { id: 'e-async', user: 'async', step: 'handler', message: 'async' },
      { id: 'e-mw', user: 'mw', step: 'mw', message: 'middleware failed' },
      { id: 'e-http', user: 'http', step: 'none', message: 'teapot' },
    ]);
  });

  it('app.notFound sees the request, whether or not other middleware matched', async () => {
    const notFound: Array<ReturnType<typeof seen>> = [];
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.use('/api/*', async (_c, next) => {
      step.set('api');
      await next();
    });
    app.get('/api/known', (c) => c.text('ok'));
    app.notFound(async (c) => {
      await sleep(1);
      notFound.push(seen());
      return c.json({ missing: c.req.path }, 404);
    });
    const base = await start(app, factory);
    for (const path of ['/nowhere', '/api/nowhere']) {
      const res = await send(`${base}${path}`, {
        headers: { 'x-user': path, 'x-request-id': `nf${path.replaceAll('/', '-')}` },
      });
      expect(res.status).toBe(404);
      expect(res.headers['x-request-id']).toBe(`nf${path.replaceAll('/', '-')}`);
    }
    expect(notFound).toEqual([
      { id: 'nf-nowhere', user: '/nowhere', step: 'none' },
      { id: 'nf-api-nowhere', user: '/api/nowhere', step: 'api' },
    ]);
  });

  it('a rejected onRequest reaches app.onError, with the id on c and in the response', async () => {
    const app = new Hono();
    app.use(
      contextvars({
        onRequest: async () => {
          await sleep(1);
          throw new Error('not authenticated');
        },
      }),
    );
    let handled = 0;
    app.get('/', (c) => {
      handled++;
      return c.text('never');
    });
    app.onError((err, c) => c.json({ error: err.message, id: c.get('requestId') }, 401));
    const base = await start(app, factory);
    const res = await send(`${base}/`, { headers: { 'x-request-id': 'denied' } });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: 'not authenticated', id: 'denied' });
    expect(res.headers['x-request-id']).toBe('denied');
    expect(handled).toBe(0);
  });

  it('stream(): the callback sees the request until the stream ends', async () => {
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.get('/', (c) =>
      stream(c, async (s) => {
        for (let i = 0; i < 6; i++) {
          await s.sleep(i % 2 === 0 ? 2 : 0);
          await new Promise((r) => setImmediate(r));
          const { id, user: u } = seen();
          await s.writeln(`${i} ${id} ${u}`);
        }
      }),
    );
    const base = await start(app, factory);
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${base}/`, { headers: { 'x-user': `u${i}`, 'x-request-id': `s${i}` } }),
      ),
    );
    for (const [i, res] of responses.entries()) {
      expect(res.headers.get('x-request-id')).toBe(`s${i}`);
      expect(await readLines(res)).toEqual(Array.from({ length: 6 }, (_, n) => `${n} s${i} u${i}`));
    }
  });

  it('streamSSE(): every event and the onError callback see the request', async () => {
    const failures: Array<ReturnType<typeof seen>> = [];
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.get('/', (c) =>
      streamSSE(
        c,
        async (s) => {
          for (let i = 0; i < 4; i++) {
            await s.sleep(1);
            await s.writeSSE({ event: 'tick', data: JSON.stringify(seen()), id: String(i) });
          }
          if (c.req.query('fail') !== undefined) throw new Error('sse failed');
        },
        async (err, s) => {
          failures.push(seen());
          await s.writeSSE({ event: 'failed', data: err.message });
        },
      ),
    );
    const base = await start(app, factory);
    const res = await fetch(`${base}/?fail`, {
      headers: { 'x-user': 'sse', 'x-request-id': 'sse-1' },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-request-id')).toBe('sse-1');
    const data = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    expect(data).toEqual(Array(4).fill({ id: 'sse-1', user: 'sse', step: 'none' }));
    expect(failures).toEqual([{ id: 'sse-1', user: 'sse', step: 'none' }]);
  });

  it('a client that leaves mid-stream: the loop ends in the request Context; wrap() keeps onAbort in it', async () => {
    const aborted: Array<ReturnType<typeof seen>> = [];
    const ended: Array<ReturnType<typeof seen>> = [];
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.get('/', (c) =>
      stream(c, async (s) => {
        s.onAbort(wrap(() => void aborted.push(seen())));
        while (!s.aborted) {
          await s.write(`${'x'.repeat(1000)}\n`);
          await s.sleep(2);
        }
        ended.push(seen());
      }),
    );
    const base = await start(app, factory);
    const controller = new AbortController();
    const res = await fetch(`${base}/`, {
      headers: { 'x-user': 'leaver', 'x-request-id': 'gone' },
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    for (let i = 0; i < 100 && ended.length === 0; i++) await sleep(10);
    const expected = { id: 'gone', user: 'leaver', step: 'none' };
    expect(aborted).toEqual([expected]);
    expect(ended).toEqual([expected]);
  });

  it('bodies: json, urlencoded and multipart (parseBody), text of a chunked upload', async () => {
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.post('/json', async (c) => {
      const body = await c.req.json();
      return c.json({ body, ...seen() });
    });
    app.post('/form', async (c) => {
      const body = await c.req.parseBody({ all: true });
      const file = body.file as File | undefined;
      return c.json({
        field: body.field,
        file: file === undefined ? undefined : await file.text(),
        ...seen(),
      });
    });
    app.post('/text', async (c) => c.json({ text: await c.req.text(), ...seen() }));
    const base = await start(app, factory);
    const who = (n: string) => ({ 'x-user': n, 'x-request-id': `b-${n}` });

    expect((await postJson(`${base}/json`, { a: 1 }, who('json'))).json()).toEqual({
      body: { a: 1 },
      id: 'b-json',
      user: 'json',
      step: 'none',
    });

    const urlencoded = await send(`${base}/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...who('urlencoded') },
      body: 'field=plain',
    });
    expect(urlencoded.json()).toEqual({
      field: 'plain',
      id: 'b-urlencoded',
      user: 'urlencoded',
      step: 'none',
    });

    const form = new FormData();
    form.set('field', 'multi');
    form.set('file', new Blob(['x'.repeat(100_000)]), 'big.txt');
    const multipart = await fetch(`${base}/form`, {
      method: 'POST',
      body: form,
      headers: who('multipart'),
    });
    expect(await multipart.json()).toEqual({
      field: 'multi',
      file: 'x'.repeat(100_000),
      id: 'b-multipart',
      user: 'multipart',
      step: 'none',
    });

    const chunked = await sendChunked(`${base}/text`, ['one ', 'two ', 'three'], who('chunked'));
    expect(chunked.json()).toEqual({
      text: 'one two three',
      id: 'b-chunked',
      user: 'chunked',
      step: 'none',
    });
  });

  it('request id: a valid one kept and echoed, a missing one generated; also c.get("requestId")', async () => {
    const app = new Hono();
    app.use(contextvars());
    app.get('/', (c) => c.json({ id: requestId.get(), fromC: c.get('requestId'), var: c.var }));
    const base = await start(app, factory);
    for (const valid of ['abc', 'a'.repeat(128), 'A-Z.a_z:0@9/+=', crypto.randomUUID()]) {
      const res = await send(`${base}/`, { headers: { 'x-request-id': valid } });
      expect(res.json()).toEqual({ id: valid, fromC: valid, var: { requestId: valid } });
      expect(res.headers['x-request-id']).toBe(valid);
    }
    const res = await send(`${base}/`);
    expect(res.json().id).toMatch(UUID);
    expect(res.headers['x-request-id']).toBe(res.json().id);
  });

  it.each(HOSTILE_REQUEST_IDS)(
    'hostile request id (%s): replaced by a generated one, never echoed raw',
    async (_why, hostile) => {
      const app = new Hono();
      app.use(contextvars());
      app.get('/', (c) => c.json({ id: requestId.get() }));
      const base = await start(app, factory);
      const res = await send(`${base}/`, { headers: { 'x-request-id': hostile } });
      expect(res.status).toBe(200);
      expect(res.json().id).toMatch(UUID);
      expect(res.headers['x-request-id']).toBe(res.json().id);
    },
  );

  it.each(RAW_HOSTILE_REQUEST_IDS)(
    'hostile request id (%s, raw bytes): a clean 2xx or 4xx, nothing injected',
    async (_why, hostile) => {
      const app = new Hono();
      app.use(contextvars());
      app.get('/', (c) => c.json({ id: requestId.get() }));
      const base = await start(app, factory);
      const raw = await rawRequest(
        base,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${hostile}\r\nConnection: close\r\n\r\n`,
      );
      expect([200, 400]).toContain(Number(raw.slice(9, 12)));
      expect(raw).not.toContain(hostile);
      expect(raw.toLowerCase()).not.toContain('set-cookie');
    },
  );

  it('a repeated request id header is replaced, and one id goes back', async () => {
    const app = new Hono();
    app.use(contextvars());
    app.get('/', (c) => c.json({ id: requestId.get() }));
    const base = await start(app, factory);
    const raw = await rawRequest(
      base,
      'GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: one\r\nX-Request-Id: two\r\nConnection: close\r\n\r\n',
    );
    const ids = raw.match(/^x-request-id: (.*)\r$/gim) ?? [];
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/x-request-id: [0-9a-f-]{36}\r$/i);
  });

  it('options: header name, generator (given c), echo off, no incoming id; a raw Response is echoed too', async () => {
    const app = new Hono();
    app.use(
      '/custom/*',
      contextvars({
        requestIdHeader: 'X-Correlation-Id',
        generateRequestId: (c) => `gen-${c.req.path.split('/').pop()}`,
      }),
    );
    app.use('/quiet/*', contextvars({ echoRequestId: false }));
    app.use('/never/*', contextvars({ requestIdHeader: false }));
    app.use('/raw/*', contextvars());
    const reply = (c: { json(v: unknown): Response }) => c.json({ id: requestId.get() });
    app.get('/custom/:x', reply);
    app.get('/quiet/:x', reply);
    app.get('/never/:x', reply);
    app.get('/raw/:x', () => new Response('raw', { headers: { 'x-other': '1' } }));
    const base = await start(app, factory);

    const kept = await send(`${base}/custom/a`, { headers: { 'x-correlation-id': 'corr-1' } });
    expect(kept.json().id).toBe('corr-1');
    expect(kept.headers['x-correlation-id']).toBe('corr-1');
    expect(kept.headers['x-request-id']).toBeUndefined();
    const generated = await send(`${base}/custom/b`, { headers: { 'x-correlation-id': 'a b' } });
    expect(generated.json().id).toBe('gen-b');
    expect(generated.headers['x-correlation-id']).toBe('gen-b');

    const quiet = await send(`${base}/quiet/a`, { headers: { 'x-request-id': 'q-1' } });
    expect(quiet.json().id).toBe('q-1');
    expect(quiet.headers['x-request-id']).toBeUndefined();

    const never = await send(`${base}/never/a`, { headers: { 'x-request-id': 'ignored' } });
    expect(never.json().id).toMatch(UUID);
    expect(never.headers['x-request-id']).toBe(never.json().id);

    const raw = await send(`${base}/raw/a`, { headers: { 'x-request-id': 'raw-1' } });
    expect(raw.body).toBe('raw');
    expect(raw.headers['x-request-id']).toBe('raw-1');
    expect(raw.headers['x-other']).toBe('1');
  });

  it('onRequest returning a Token or a thenable; per-request mutable values', async () => {
    const bag = new ContextVar<string[]>('bag');
    const app = new Hono();
    app.use(contextvars({ onRequest: (c) => user.set(c.req.header('x-user') ?? 'anon') }));
    app.use(
      contextvars({
        onRequest: () => ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the case.
          then(resolve: (v: unknown) => void) {
            setTimeout(() => resolve(bag.set([])), 1);
          },
        }),
      }),
    );
    app.get('/', async (c) => {
      bag.get().push(user.get());
      await sleep(1);
      return c.json({ bag: bag.get() });
    });
    const base = await start(app, factory);
    const results = await Promise.all(
      ['a', 'b', 'c'].map((u) => send(`${base}/`, { headers: { 'x-user': u } })),
    );
    expect(results.map((r) => r.json().bag)).toEqual([['a'], ['b'], ['c']]);
  });

  it('200 concurrent requests with random awaits never see each other’s values', async () => {
    const app = new Hono();
    app.use(contextvars({ onRequest: setUser }));
    app.use(async (c, next) => {
      await sleep(Math.random() * 3);
      step.set(`step-${c.req.header('x-user')}`);
      await next();
    });
    app.post('/', async (c) => {
      await sleep(Math.random() * 5);
      const before = seen();
      await new Promise((r) => setImmediate(r));
      const body = await c.req.json();
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      return c.json({ before, after: seen(), body });
    });
    const base = await start(app, factory);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postJson(`${base}/`, { i }, { 'x-user': `user-${i}`, 'x-request-id': `id-${i}` }).then(
          (r) => r.json(),
        ),
      ),
    );
    for (const [i, r] of results.entries()) {
      const expected = { id: `id-${i}`, user: `user-${i}`, step: `step-user-${i}` };
      expect(r).toEqual({ before: expected, after: expected, body: { i } });
    }
  });
});

// Bun, Deno and other fetch runtimes call `app.fetch(request)` themselves: the same
// middleware, with no Node server and nothing of `node:http` in the way.
describe('without a server: app.fetch(new Request(...)), the Bun/Deno entry', () => {
  const app = new Hono();
  app.use(contextvars({ onRequest: setUser }));
  app.post('/', async (c) => {
    await sleep(Math.random() * 3);
    const body = await c.req.json();
    await new Promise((r) => setImmediate(r));
    return c.json({ ...seen(), body, fromC: c.get('requestId') });
  });
  app.get('/fail', async () => {
    await sleep(1);
    throw new Error('fetch failed');
  });
  app.get('/stream', (c) =>
    stream(c, async (s) => {
      for (let i = 0; i < 3; i++) {
        await s.sleep(1);
        await s.writeln(`${seen().id} ${seen().user}`);
      }
    }),
  );
  app.onError((err, c) => c.json({ error: err.message, ...seen() }, 500));
  const request = (path: string, headers: Record<string, string>, body?: unknown) =>
    app.fetch(
      new Request(`http://localhost${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );

  it('200 concurrent requests never see each other’s values; ids echoed', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request('/', { 'x-user': `f${i}`, 'x-request-id': `fid-${i}` }, { i }),
      ),
    );
    for (const [i, res] of responses.entries()) {
      expect(res.headers.get('x-request-id')).toBe(`fid-${i}`);
      expect(await res.json()).toEqual({
        id: `fid-${i}`,
        user: `f${i}`,
        step: 'none',
        body: { i },
        fromC: `fid-${i}`,
      });
    }
  });

  it('onError and stream() see the request; a repeated or hostile id is replaced', async () => {
    const failed = await request('/fail', { 'x-user': 'err', 'x-request-id': 'f-err' });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({
      error: 'fetch failed',
      id: 'f-err',
      user: 'err',
      step: 'none',
    });
    const streamed = await request('/stream', { 'x-user': 'st', 'x-request-id': 'f-st' });
    expect(await readLines(streamed)).toEqual(['f-st st', 'f-st st', 'f-st st']);

    const repeated = new Headers([
      ['x-request-id', 'one'],
      ['x-request-id', 'two'],
    ]);
    for (const headers of [repeated, { 'x-request-id': '<script>' }]) {
      const res = await app.fetch(
        new Request('http://localhost/', { method: 'POST', headers, body: '{}' }),
      );
      const { id } = (await res.json()) as { id: string };
      expect(id).toMatch(UUID);
      expect(res.headers.get('x-request-id')).toBe(id);
    }
  });
});
