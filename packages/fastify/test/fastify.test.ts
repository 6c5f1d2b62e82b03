import { Agent } from 'node:http';
import { PassThrough } from 'node:stream';
import { Context, ContextVar, copyContext, requestId } from '@contextvars/core';
import Fastify5, { type FastifyInstance } from 'fastify';
import Fastify4 from 'fastify4';
import { afterEach, describe, expect, it } from 'vitest';
import {
  abortMidBody,
  abortMidResponse,
  close,
  collectedAll,
  HOSTILE_REQUEST_IDS,
  listen,
  postJson,
  RAW_HOSTILE_REQUEST_IDS,
  rawRequest,
  send,
  sendChunked,
  settle,
  sleep,
  tracker,
} from '../../../test/support/http.js';
import contextvarsDefault, { contextvars, genReqId } from '../src/index.js';

const user = new ContextVar<string>('user', { default: 'none' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type AnyFastify = FastifyInstance;
const versions: Array<[string, (opts?: any) => AnyFastify]> = [
  ['Fastify 5', (opts) => Fastify5(opts) as unknown as AnyFastify],
  ['Fastify 4', (opts) => Fastify4(opts) as unknown as AnyFastify],
];

const servers: AnyFastify[] = [];
afterEach(async () => {
  for (const app of servers.splice(0)) {
    await close(app.server).catch(() => {});
  }
});

async function start(app: AnyFastify): Promise<string> {
  servers.push(app);
  await app.ready();
  return listen(app.server);
}

describe.each(versions)('%s', (_name, Fastify) => {
  it('default export is the named export', () => {
    expect(contextvarsDefault).toBe(contextvars);
  });

  it('every request gets a new Context copied from where the server received it', async () => {
    const fromServer = new ContextVar<string>('fromServer');
    const counter = new ContextVar<number>('counter', { default: 0 });
    const serverCtx = new Context();
    const app = Fastify();
    await app.register(contextvars);
    app.get('/', async () => {
      const seen = { fromServer: fromServer.get('missing'), counterBefore: counter.get() };
      counter.set(counter.get() + 1);
      return seen;
    });
    const base = await serverCtx.run(() => {
      fromServer.set('server value');
      return start(app);
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await send(`${base}/`, { agent });
        expect(res.json()).toEqual({ fromServer: 'server value', counterBefore: 0 });
      }
    } finally {
      agent.destroy();
    }
    expect(serverCtx.get(counter)).toBeUndefined();
  });

  it('keep-alive: a request never sees the previous one, not even in its first hook', async () => {
    const app = Fastify();
    await app.register(contextvars);
    const firstHookSaw: string[] = [];
    app.addHook('onRequest', async () => {
      firstHookSaw.push(user.get());
    });
    app.get('/:name', async (req) => {
      user.set((req.params as { name: string }).name);
      await sleep(1);
      return { user: user.get() };
    });
    const base = await start(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const name of ['a', 'b', 'c']) {
        expect((await send(`${base}/${name}`, { agent })).json()).toEqual({ user: name });
      }
    } finally {
      agent.destroy();
    }
    expect(firstHookSaw).toEqual(['none', 'none', 'none']);
  });

  it('a value set in an async onRequest after an await is visible in every later hook', async () => {
    const seen: Record<string, string> = {};
    const record = (name: string) => {
      seen[name] = `${user.get()}|${requestId.get('?')}`;
    };
    const app = Fastify({ connectionTimeout: 300 });
    await app.register(contextvars);
    app.addHook('onRequest', async () => {
      await sleep(2);
      user.set('alice');
    });
    app.addHook('preParsing', async (_req, _reply, payload) => {
      record('preParsing');
      return payload;
    });
    app.addHook('preValidation', async () => record('preValidation'));
    app.addHook('preHandler', async () => record('preHandler'));
    app.addHook('preSerialization', async (_req, _reply, payload) => {
      record('preSerialization');
      return payload;
    });
    app.addHook('onSend', async (_req, _reply, payload) => {
      record('onSend');
      return payload;
    });
    app.addHook('onResponse', async () => record('onResponse'));
    app.addHook('onError', async () => record('onError'));
    app.addHook('onTimeout', async () => record('onTimeout'));
    app.setErrorHandler(async (err: Error, _req, reply) => {
      record('errorHandler');
      return reply.code(500).send({ error: err.message });
    });
    app.post('/ok', async (req, reply) => {
      record('handler');
      reply.raw.on('close', () => record('raw close'));
      reply.raw.on('finish', () => record('raw finish'));
      return { body: req.body };
    });
    app.get('/fail', async () => {
      await sleep(1);
      throw new Error('boom');
    });
    app.get('/slow', async (_req, reply) => {
      await sleep(600);
      // The connection timeout has destroyed the socket by now: answer nothing.
      if (reply.raw.destroyed || reply.raw.writableEnded) return reply.hijack();
      return 'late';
    });
    const base = await start(app);
    const ok = await postJson(`${base}/ok`, { a: 1 }, { 'x-request-id': 'req-ok' });
    expect(ok.json()).toEqual({ body: { a: 1 } });
    await sleep(20);
    for (const hook of [
      'preParsing',
      'preValidation',
      'preHandler',
      'handler',
      'preSerialization',
      'onSend',
      'onResponse',
      'raw close',
      'raw finish',
    ]) {
      expect([hook, seen[hook]]).toEqual([hook, 'alice|req-ok']);
    }
    const fail = await send(`${base}/fail`, { headers: { 'x-request-id': 'req-fail' } });
    expect(fail.status).toBe(500);
    expect(fail.headers['x-request-id']).toBe('req-fail');
    await sleep(20);
    expect(seen.onError).toBe('alice|req-fail');
    expect(seen.errorHandler).toBe('alice|req-fail');
    await send(`${base}/slow`, { headers: { 'x-request-id': 'req-slow' }, timeoutMs: 3000 }).catch(
      () => undefined,
    );
    await sleep(50);
    expect(seen.onTimeout).toBe('alice|req-slow');
  });

  it('bodies: JSON, a custom content-type parser reading the stream, a streamed upload', async () => {
    const app = Fastify();
    await app.register(contextvars, {
      onRequest: (req) => {
        user.set(String(req.headers['x-user']));
      },
    });
    app.addContentTypeParser('text/custom', (_req, payload, done) => {
      let text = '';
      payload.on('data', (c: Buffer) => {
        text += `${c}[${user.get()}]`;
      });
      payload.on('end', () => done(null, { text, parserUser: user.get() }));
    });
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) =>
      done(null, payload),
    );
    app.post('/json', async (req) => ({ body: req.body, user: user.get() }));
    app.post('/custom', async (req) => ({ ...(req.body as object), user: user.get() }));
    app.post('/stream', async (req) => {
      const stream = req.body as PassThrough;
      const parts: string[] = [];
      await new Promise<void>((resolve) => {
        stream.on('data', (c: Buffer) => parts.push(`${c}:${user.get()}`));
        stream.on('end', () => resolve());
      });
      return { parts, user: user.get() };
    });
    const base = await start(app);
    const [json, custom, streamed] = await Promise.all([
      postJson(`${base}/json`, { x: 1 }, { 'x-user': 'u1' }),
      sendChunked(`${base}/custom`, ['a', 'b'], { 'content-type': 'text/custom', 'x-user': 'u2' }),
      sendChunked(`${base}/stream`, ['p', 'q', 'r'], {
        'content-type': 'application/octet-stream',
        'x-user': 'u3',
      }),
    ]);
    expect(json.json()).toEqual({ body: { x: 1 }, user: 'u1' });
    expect(custom.json()).toEqual({ text: 'a[u2]b[u2]', parserUser: 'u2', user: 'u2' });
    expect(streamed.json().user).toBe('u3');
    expect(streamed.json().parts.every((p: string) => p.endsWith(':u3'))).toBe(true);
  });

  it('request id: a valid incoming id is kept, echoed, and is Fastify’s request.id', async () => {
    const logs: any[] = [];
    const app = Fastify({
      logger: { level: 'info', stream: { write: (line: string) => logs.push(JSON.parse(line)) } },
    });
    await app.register(contextvars);
    app.get('/', async (req) => {
      req.log.info('inside');
      return { id: requestId.get(), fastifyId: req.id };
    });
    const base = await start(app);
    const res = await send(`${base}/`, { headers: { 'x-request-id': 'abc-123_OK.:@/+=' } });
    expect(res.json()).toEqual({ id: 'abc-123_OK.:@/+=', fastifyId: 'abc-123_OK.:@/+=' });
    expect(res.headers['x-request-id']).toBe('abc-123_OK.:@/+=');
    const fresh = await send(`${base}/`);
    expect(fresh.json().id).toMatch(UUID);
    expect(fresh.json().fastifyId).toBe(fresh.json().id);
    expect(fresh.headers['x-request-id']).toBe(fresh.json().id);
    await sleep(10);
    const inside = logs.filter((l) => l.msg === 'inside').map((l) => l.reqId);
    expect(inside).toEqual(['abc-123_OK.:@/+=', fresh.json().id]);
  });

  it.each(HOSTILE_REQUEST_IDS)(
    'request id: %s is replaced, never echoed',
    async (_why, hostile) => {
      const app = Fastify();
      await app.register(contextvars);
      app.get('/', async (req) => ({ id: requestId.get(), fastifyId: req.id }));
      const base = await start(app);
      const res = await send(`${base}/`, { headers: { 'x-request-id': hostile } });
      expect(res.status).toBe(200);
      expect(res.json().id).toMatch(UUID);
      expect(res.json().fastifyId).toBe(res.json().id);
      expect(res.headers['x-request-id']).toBe(res.json().id);
      expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).toHaveLength(1);
    },
  );

  it('request id: a header sent twice is replaced, and the response carries one id', async () => {
    const app = Fastify();
    await app.register(contextvars);
    app.get('/', async () => ({ id: requestId.get() }));
    const base = await start(app);
    const raw = await rawRequest(
      base,
      'GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: aaa\r\nX-Request-Id: bbb\r\nConnection: close\r\n\r\n',
    );
    const echoed = raw.match(/^x-request-id: (.*)$/gim) ?? [];
    expect(echoed).toHaveLength(1);
    expect(echoed[0]).toMatch(new RegExp(`x-request-id: ${UUID.source.slice(1, -1)}\r?$`, 'i'));
  });

  it.each(RAW_HOSTILE_REQUEST_IDS)('request id: %s gets a clean answer', async (_why, hostile) => {
    const app = Fastify();
    await app.register(contextvars);
    app.get('/', async () => ({ id: requestId.get() }));
    const base = await start(app);
    const raw = await rawRequest(
      base,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${hostile}\r\nConnection: close\r\n\r\n`,
    );
    const status = Number(raw.slice(9, 12));
    expect([200, 400]).toContain(status);
    expect(raw).not.toContain(hostile);
    expect(raw.toLowerCase()).not.toContain('set-cookie');
  });

  it('request id: Fastify’s own requestIdHeader passing a hostile header through is overridden', async () => {
    const logs: any[] = [];
    const app = Fastify({
      requestIdHeader: 'x-request-id',
      logger: { level: 'info', stream: { write: (line: string) => logs.push(JSON.parse(line)) } },
    });
    await app.register(contextvars);
    app.get('/', async (req) => {
      req.log.info('inside');
      return { id: requestId.get(), fastifyId: req.id };
    });
    const base = await start(app);
    const res = await send(`${base}/`, { headers: { 'x-request-id': 'evil value' } });
    expect(res.json().id).toMatch(UUID);
    expect(res.json().fastifyId).toBe(res.json().id);
    expect(res.headers['x-request-id']).toBe(res.json().id);
    await sleep(10);
    expect(logs.find((l) => l.msg === 'inside').reqId).toBe(res.json().id);
  });

  it('options: header name, generator, echo off; genReqId for the constructor', async () => {
    let n = 0;
    const app = Fastify();
    await app.register(contextvars, {
      requestIdHeader: 'X-Correlation-Id',
      generateRequestId: () => `gen-${++n}`,
    });
    app.get('/', async () => ({ id: requestId.get() }));
    const base = await start(app);
    const kept = await send(`${base}/`, { headers: { 'x-correlation-id': 'corr-1' } });
    expect(kept.json().id).toBe('corr-1');
    expect(kept.headers['x-correlation-id']).toBe('corr-1');
    expect(kept.headers['x-request-id']).toBeUndefined();
    const generated = await send(`${base}/`, { headers: { 'x-request-id': 'ignored' } });
    expect(generated.json().id).toBe('gen-1');

    const quiet = Fastify({ genReqId: genReqId(), requestIdHeader: false });
    await quiet.register(contextvars, { echoRequestId: false });
    quiet.get('/', async (req) => ({ id: requestId.get(), fastifyId: req.id }));
    const base2 = await start(quiet);
    const res = await send(`${base2}/`, { headers: { 'x-request-id': 'abc' } });
    expect(res.json()).toEqual({ id: 'abc', fastifyId: 'abc' });
    expect(res.headers['x-request-id']).toBeUndefined();
  });

  it('options are validated with typed errors', async () => {
    for (const bad of [
      { requestIdHeader: 5 },
      { requestIdHeader: 'bad header' },
      { onRequest: 'x' },
      { echoRequestId: 'yes' },
      { generateRequestId: 1 },
    ]) {
      const app = Fastify();
      servers.push(app);
      await expect(app.register(contextvars, bad as never).ready()).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }
  });

  it('onRequest: per-request initial values are fresh; a throwing hook is a 500, not a crash', async () => {
    const cart = new ContextVar<string[]>('cart');
    const app = Fastify();
    await app.register(contextvars, {
      onRequest: async (req) => {
        if (req.headers['x-fail']) throw new Error('auth failed');
        cart.set([]);
      },
    });
    app.get('/add/:item', async (req) => {
      cart.get().push((req.params as { item: string }).item);
      return { cart: cart.get() };
    });
    const base = await start(app);
    expect((await send(`${base}/add/apple`)).json()).toEqual({ cart: ['apple'] });
    expect((await send(`${base}/add/pear`)).json()).toEqual({ cart: ['pear'] });
    expect((await send(`${base}/add/x`, { headers: { 'x-fail': '1' } })).status).toBe(500);
  });

  it('concurrent requests never see each other’s values', async () => {
    const app = Fastify();
    await app.register(contextvars, {
      onRequest: (req) => void user.set(String(req.headers['x-user'])),
    });
    app.post('/', async (req) => {
      await sleep(Math.random() * 5);
      const before = user.get();
      await new Promise((r) => setImmediate(r));
      return { before, after: user.get(), id: requestId.get(), body: req.body };
    });
    const base = await start(app);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        postJson(`${base}/`, { i }, { 'x-user': `user-${i}`, 'x-request-id': `id-${i}` }).then(
          (r) => r.json(),
        ),
      ),
    );
    results.forEach((r, i) => {
      expect(r).toEqual({ before: `user-${i}`, after: `user-${i}`, id: `id-${i}`, body: { i } });
    });
  });

  it('nothing of a request is retained after it ends, aborted ones included', async () => {
    const { alive, track } = tracker();
    const payload = new ContextVar<object>('payload');
    const app = Fastify();
    await app.register(contextvars, {
      onRequest: () => {
        const obj = { big: new Array(100).fill(0) };
        track(obj);
        payload.set(obj);
      },
    });
    app.post('/', async (req) => ({ ok: Boolean(req.body) }));
    app.get('/stream', async (_req, reply) => {
      const stream = new PassThrough();
      let n = 0;
      const timer = setInterval(() => {
        stream.write(`chunk ${n++} ${'x'.repeat(1000)}\n`);
        if (n > 50) {
          clearInterval(timer);
          stream.end();
        }
      }, 2);
      stream.on('close', () => clearInterval(timer));
      return reply.send(stream);
    });
    const base = await start(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) =>
          send(`${base}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ i }),
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
    expect(app.server.listenerCount('request')).toBe(1);
    expect(app.server.listenerCount('connection')).toBeLessThanOrEqual(2);
  });

  it('a keep-alive socket does not accumulate listeners', async () => {
    const app = Fastify();
    await app.register(contextvars);
    const counts: number[] = [];
    app.get('/', async (req) => {
      const socket = req.raw.socket;
      counts.push(socket.eventNames().reduce((n, e) => n + socket.listenerCount(e), 0));
      return 'ok';
    });
    const base = await start(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) await send(`${base}/`, { agent });
    agent.destroy();
    expect(new Set(counts.slice(2)).size).toBe(1);
  });

  it('does not touch the context outside requests', async () => {
    const app = Fastify();
    await app.register(contextvars);
    app.get('/', async () => ({ id: requestId.get() }));
    await start(app);
    expect(requestId.get(undefined)).toBeUndefined();
    expect(copyContext().has(requestId)).toBe(false);
  });
});

describe('hooks fired outside the request chain', () => {
  it('route-level onResponse hooks and hooks of child plugins run in the request Context', async () => {
    const seen: string[] = [];
    const app = Fastify5();
    servers.push(app as unknown as AnyFastify);
    await app.register(contextvars, {
      onRequest: (req) => void user.set(String(req.headers['x-user'])),
    });
    await app.register(async (child) => {
      child.addHook('onResponse', (_req, _reply, done) => {
        seen.push(`child:${user.get()}`);
        done();
      });
      child.get(
        '/',
        { onResponse: async () => void seen.push(`route:${user.get()}`) },
        async () => 'ok',
      );
    });
    const base = await start(app as unknown as AnyFastify);
    await send(`${base}/`, { headers: { 'x-user': 'zed' } });
    await sleep(20);
    expect(seen.sort()).toEqual(['child:zed', 'route:zed']);
  });
});

describe('Fastify 5 logging with a LogController', () => {
  it('a replaced id goes under the label the LogController gives, once per line', async () => {
    const { LogController } = (await import('fastify')) as unknown as {
      LogController: new (opts: { requestIdLogLabel: string }) => unknown;
    };
    const raw: string[] = [];
    const app = Fastify5({
      requestIdHeader: 'x-request-id',
      logController: new LogController({ requestIdLogLabel: 'request_id' }),
      logger: { level: 'info', stream: { write: (line: string) => raw.push(line) } },
    } as never);
    await app.register(contextvars);
    app.get('/', async (req) => {
      req.log.info('inside');
      return { id: requestId.get() };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const res = await send(`${base}/`, { headers: { 'x-request-id': 'evil value' } });
      await sleep(10);
      const inside = raw.find((l) => l.includes('"inside"'))!;
      expect(JSON.parse(inside).request_id).toBe(res.json().id);
      expect(inside.match(/"request_id":/g)).toHaveLength(1);
      expect(inside).not.toContain('evil');
    } finally {
      await app.close();
    }
  });
});
