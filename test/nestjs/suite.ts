/**
 * The @contextvars/nestjs suite, run once per NestJS major (v11.test.ts,
 * v12.test.ts) on platform-express and platform-fastify, against real servers on
 * 127.0.0.1.
 */
import { ContextVarsContextManager } from '@contextvars/otel-bridge';
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys } from '../otel-sdk/duplicate-keys.js';
import {
  HOSTILE_REQUEST_IDS,
  postJson,
  RAW_HOSTILE_REQUEST_IDS,
  rawRequest,
  send,
} from '../support/http.js';
import {
  fromGuard,
  fromMiddleware,
  type Nest,
  PLATFORMS,
  type RunningApp,
  startApp,
} from './apps.js';

const CONCURRENT = 200;

const expected = (v: string) => ({
  middleware: `m-${v}`,
  guard: `g-${v}`,
  pipe: `p-${v}`,
  interceptor: `i-${v}`,
});

export function nestSuite(nest: Nest): void {
  // nestjs-pino keeps its first root logger for the process: both platforms' apps
  // write their lines here.
  const nestjsPinoLines: string[] = [];
  describe.each(PLATFORMS)(`NestJS ${nest.major} on platform-%s`, (platform) => {
    describe('ContextVarsModule.forRoot()', () => {
      const lines: string[] = [];
      let app: RunningApp;
      beforeAll(async () => {
        app = await startApp(nest, platform, { lines, contextvars: {} });
      });
      afterAll(() => app.close());

      it('values set in middleware, guard, interceptor and pipe reach the controller, the service and the response mapping', async () => {
        const res = await send(`${app.base}/r/stages/a1`, {
          headers: { 'x-value': 'a1', 'x-request-id': `${platform}-a1` },
        });
        expect(res.status).toBe(200);
        expect(res.headers['x-request-id']).toBe(`${platform}-a1`);
        const body = res.json();
        const all = { id: `${platform}-a1`, ...expected('a1') };
        expect(body.handler).toEqual(all);
        expect(body.service).toEqual(all);
        expect(body.mapped).toEqual(all);
      });

      it('the exception filter sees the request, for a handler that throws and a guard that throws', async () => {
        const fail = await send(`${app.base}/r/fail`, {
          headers: { 'x-value': 'f1', 'x-request-id': `${platform}-f1` },
        });
        expect(fail.status).toBe(500);
        expect(fail.headers['x-request-id']).toBe(`${platform}-f1`);
        expect(fail.json()).toMatchObject({
          error: 'handler broke',
          seen: { id: `${platform}-f1`, middleware: 'm-f1' },
        });
        const denied = await send(`${app.base}/r/stages/d1`, {
          headers: { 'x-value': 'd1', 'x-deny': '1', 'x-request-id': `${platform}-d1` },
        });
        expect(denied.status).toBe(403);
        expect(denied.json().seen).toEqual({
          id: `${platform}-d1`,
          middleware: 'm-d1',
          guard: 'g-d1',
          pipe: null,
          interceptor: null,
        });
      });

      it('a JSON body is parsed inside the request Context', async () => {
        const res = await postJson(
          `${app.base}/r/echo`,
          { n: 1 },
          { 'x-value': 'b1', 'x-request-id': `${platform}-b1` },
        );
        expect(res.status).toBe(201);
        expect(res.json()).toMatchObject({
          body: { n: 1 },
          handler: { id: `${platform}-b1`, middleware: 'm-b1', interceptor: 'i-b1' },
          mapped: { id: `${platform}-b1` },
        });
      });

      it('routes no controller serves (404) still get an id', async () => {
        const res = await send(`${app.base}/nowhere`, { headers: { 'x-request-id': 'nf-1' } });
        expect(res.status).toBe(404);
        expect(res.headers['x-request-id']).toBe('nf-1');
      });

      it('generates an id when none comes, and every pino line carries it once (raw text)', async () => {
        lines.length = 0;
        const ok = await send(`${app.base}/r/stages/l1`, { headers: { 'x-value': 'l1' } });
        const id = ok.headers['x-request-id'] as string;
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect(ok.json().service.id).toBe(id);
        const fail = await send(`${app.base}/r/fail`);
        const failId = fail.headers['x-request-id'] as string;
        expect(lines.length).toBe(2);
        const [service, failed] = lines.map((l) => JSON.parse(l));
        expect(service).toMatchObject({ msg: 'service', request_id: id });
        expect(failed).toMatchObject({ msg: 'request failed', request_id: failId });
        for (const line of lines) expect(duplicateKeys(line)).toEqual([]);
      });

      it(`${CONCURRENT} concurrent requests never see each other's values`, async () => {
        const results = await Promise.all(
          Array.from({ length: CONCURRENT }, async (_, i) => {
            const v = `c${i}`;
            const res = await send(`${app.base}/r/stages/${v}`, {
              headers: { 'x-value': v, 'x-request-id': `${platform}-${v}` },
            });
            return { v, body: res.json(), echoed: res.headers['x-request-id'] };
          }),
        );
        for (const { v, body, echoed } of results) {
          const all = { id: `${platform}-${v}`, ...expected(v) };
          expect(echoed).toBe(`${platform}-${v}`);
          expect(body.handler).toEqual(all);
          expect(body.service).toEqual(all);
          expect(body.mapped).toEqual(all);
        }
      });

      it.each(HOSTILE_REQUEST_IDS)(
        'a hostile request id (%s) is replaced, never echoed',
        async (_why, hostile) => {
          const res = await send(`${app.base}/r/stages/h`, {
            headers: { 'x-value': 'h', 'x-request-id': hostile },
          });
          const echoed = res.headers['x-request-id'] as string;
          expect(echoed).not.toBe(hostile);
          expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
          expect(res.json().service.id).toBe(echoed);
        },
      );

      it('a repeated request-id header is replaced', async () => {
        const res = await send(`${app.base}/r/stages/h`, {
          headers: { 'x-value': 'h', 'x-request-id': ['one', 'two'] },
        });
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      });

      it.each(RAW_HOSTILE_REQUEST_IDS)(
        'a raw hostile request id (%s) never reaches the response',
        async (_why, hostile) => {
          const answer = await rawRequest(
            app.base,
            `GET /r/sync HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${hostile}\r\nConnection: close\r\n\r\n`,
          );
          expect(answer).not.toContain(hostile);
          expect(answer).not.toMatch(/set-cookie/i);
        },
      );
    });

    describe('beside OpenTelemetry (the bridge as context manager)', () => {
      const lines: string[] = [];
      let app: RunningApp;
      let manager: ContextVarsContextManager;
      const traceId = 'a'.repeat(32);
      const spanIdOf = (n: number) => n.toString(16).padStart(16, '0');
      beforeAll(async () => {
        manager = new ContextVarsContextManager().enable();
        context.setGlobalContextManager(manager);
        // What HTTP instrumentation does: the request listener runs with the
        // server span active.
        let n = 0;
        app = await startApp(nest, platform, {
          lines,
          contextvars: {},
          aroundRequest: (fn) =>
            context.with(
              trace.setSpan(
                context.active(),
                trace.wrapSpanContext({ traceId, spanId: spanIdOf(++n), traceFlags: 1 }),
              ),
              fn,
            ),
        });
      });
      afterAll(async () => {
        await app.close();
        context.disable();
      });

      it("the server span stays active in the handler, beside the request's vars, and reaches the log lines", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const res = await send(`${app.base}/r/span`, {
              headers: { 'x-value': `s${i}`, 'x-request-id': `${platform}-s${i}` },
            });
            return { i, body: res.json() };
          }),
        );
        const spans = new Set<string>();
        for (const { i, body } of results) {
          expect(body).toMatchObject({ id: `${platform}-s${i}`, middleware: `m-s${i}` });
          expect(body.span).toMatch(/^[0-9a-f]{16}$/);
          spans.add(body.span);
          const line = lines
            .map((l) => JSON.parse(l))
            .find((l) => l.msg === 'span' && l.request_id === `${platform}-s${i}`);
          expect(line).toMatchObject({ trace_id: traceId, span_id: body.span });
        }
        expect(spans.size).toBe(20); // each request its own span
        for (const line of lines) expect(duplicateKeys(line)).toEqual([]);
      });
    });

    describe('options', () => {
      const apps: RunningApp[] = [];
      afterAll(() => Promise.all(apps.map((a) => a.close())));
      const start = async (options: Parameters<typeof startApp>[2]) => {
        const app = await startApp(nest, platform, options);
        apps.push(app);
        return app;
      };

      it('requestIdHeader, generateRequestId, echoRequestId and an async onRequest', async () => {
        let n = 0;
        const app = await start({
          contextvars: {
            requestIdHeader: 'X-Correlation-Id',
            generateRequestId: () => `gen-${++n}`,
            onRequest: async (req) => {
              await new Promise((r) => setTimeout(r, 1));
              return fromGuard.set(`hook-${req.headers['x-value']}`);
            },
          },
        });
        const given = await send(`${app.base}/r/stages/o1`, {
          headers: { 'x-value': 'o1', 'x-correlation-id': 'corr-1', 'x-request-id': 'ignored' },
        });
        expect(given.headers['x-correlation-id']).toBe('corr-1');
        expect(given.headers['x-request-id']).toBeUndefined();
        expect(given.json().service.id).toBe('corr-1');
        const generated = await send(`${app.base}/r/sync`, { headers: { 'x-value': 'o2' } });
        expect(generated.json()).toMatchObject({ id: 'gen-1', value: 'm-o2' });

        const quiet = await start({ contextvars: { echoRequestId: false } });
        const res = await send(`${quiet.base}/r/sync`, { headers: { 'x-request-id': 'q-1' } });
        expect(res.headers['x-request-id']).toBeUndefined();
        expect(res.json().id).toBe('q-1');
      });

      it('onRequest sees the request; a throwing onRequest becomes the error response', async () => {
        const app = await start({
          contextvars: {
            onRequest: (req) => {
              if (req.headers['x-boom'] !== undefined) throw new Error('hook failed');
              fromMiddleware.set('from-hook');
            },
          },
        });
        const boom = await send(`${app.base}/r/sync`, { headers: { 'x-boom': '1' } });
        expect(boom.status).toBe(500);
        const ok = await send(`${app.base}/r/sync`, { headers: { 'x-fast': '1' } });
        expect(ok.status).toBe(200);
      });

      it('options of the wrong type fail at bootstrap', async () => {
        const { ContextVarsModule } = await import('@contextvars/nestjs');
        expect(() => ContextVarsModule.forRoot({ requestIdHeader: 'bad header' })).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
        );
        expect(() => ContextVarsModule.forRoot({ onRequest: 1 as never })).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
        );
      });

      it(`no double context when @contextvars/${platform} is registered too: the first one wins`, async () => {
        let nestHook = 0;
        const app = await start({
          contextvars: { generateRequestId: () => 'from-nest', onRequest: () => nestHook++ },
          adapterToo: { generateRequestId: () => 'from-adapter' },
        });
        const res = await send(`${app.base}/r/stages/x1`, { headers: { 'x-value': 'x1' } });
        expect(res.status).toBe(200);
        expect(res.headers['x-request-id']).toBe('from-adapter');
        const idHeaders = res.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id');
        expect(idHeaders).toHaveLength(1);
        expect(res.json().mapped).toEqual({ id: 'from-adapter', ...expected('x1') });
        expect(nestHook).toBe(0);
      });

      it('with nestjs-pino: its request logger and pino-http lines carry request_id once', async () => {
        const lines = nestjsPinoLines;
        const app = await start({ contextvars: {}, lines, nestjsPino: true });
        const res = await send(`${app.base}/r/stages/n1`, {
          headers: { 'x-value': 'n1', 'x-request-id': `${platform}-n1` },
        });
        expect(res.json().mapped.middleware).toBe('m-n1');
        await new Promise((r) => setTimeout(r, 20));
        const parsed = lines
          .map((l) => JSON.parse(l))
          .filter((l) => l.request_id === `${platform}-n1`);
        const through = parsed.find((l) => l.msg === 'through nestjs-pino');
        expect(through).toMatchObject({ request_id: `${platform}-n1`, context: 'Service' });
        expect(through.req).toBeDefined(); // nestjs-pino's request-bound logger
        const completed = parsed.find((l) => l.msg === 'request completed');
        expect(completed?.request_id).toBe(`${platform}-n1`);
        for (const line of lines) expect(duplicateKeys(line)).toEqual([]);
      });
    });
  });
}
