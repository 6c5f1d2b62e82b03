/**
 * Nothing of a request outlives it: the Contexts of finished, failed and aborted
 * requests are collected, and the heap stays flat over 100,000 requests, within the
 * noise of the same app without the middleware (the reliability suite's method for
 * Fastify, Express and Koa).
 */
import { ContextVar, requestId } from '@contextvars/core';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { afterAll, describe, expect, it } from 'vitest';
import { drive, heapUsed, mb } from '../../../test/support/heap.js';
import {
  abortMidBody,
  abortMidResponse,
  collectedAll,
  send,
  settle,
  sleep,
  tracker,
} from '../../../test/support/http.js';
import { contextvars } from '../src/index.js';
import { start } from './support.js';

const TOTAL = 100_000;
const SAMPLE_EVERY = 20_000;
// The control only measures the noise of heap samples: half the requests, as many samples.
const CONTROL_TOTAL = 50_000;
const CONCURRENCY = 50;
const MB = 1024 * 1024;
const figures: string[] = [];
afterAll(() => {
  console.log(`hono memory (heap used after GC, MB):\n  ${figures.join('\n  ')}`);
});

/** An object per request, held only by the request's Context. */
const requestObject = new ContextVar<object>('requestObject');
const value = new ContextVar<string>('value');

/** The same routes with and without the middleware. */
function createApp(options: { bare?: boolean; onRequestObject?: (obj: object) => void } = {}) {
  const app = new Hono();
  if (!options.bare) {
    app.use(
      contextvars({
        onRequest: (c) => {
          value.set(c.req.header('x-value') ?? 'none');
          const obj = { payload: new Array(64).fill(0) };
          requestObject.set(obj);
          options.onRequestObject?.(obj);
        },
      }),
    );
  }
  app.get('/sync', (c) => c.json({ id: requestId.get(undefined), value: value.get(undefined) }));
  app.post('/work', async (c) => {
    const body = await c.req.json();
    await sleep(1);
    return c.json({ body, value: value.get(undefined) });
  });
  app.get('/work', async (c) => {
    await sleep(Math.random() * 3);
    if (Math.random() < 0.2) throw new Error('failed on purpose');
    return c.json({ value: value.get(undefined) });
  });
  app.get('/stream', (c) =>
    stream(c, async (s) => {
      for (let i = 0; i < 50 && !s.aborted; i++) {
        await s.write(`${value.get(undefined)} ${'x'.repeat(1000)}\n`);
        await s.sleep(2);
      }
    }),
  );
  app.onError((err, c) => c.json({ error: err.message, value: value.get(undefined) }, 500));
  return app;
}

describe('hono: nothing of a request is retained', () => {
  it(`${TOTAL} requests: heap growth within the noise of a bare Hono run; every sampled Context collected`, async () => {
    const controlSamples = await drive(
      await start(createApp({ bare: true })),
      CONTROL_TOTAL,
      CONTROL_TOTAL / 5,
      { path: '/sync', concurrency: CONCURRENCY },
    );

    const { alive, track } = tracker();
    let n = 0;
    const app = createApp({ onRequestObject: (obj) => n++ % 1000 === 0 && track(obj) });
    const samples = await drive(await start(app), TOTAL, SAMPLE_EVERY, {
      path: '/sync',
      concurrency: CONCURRENCY,
    });

    // Growth after the first sample (warm-up: JIT, caches, pools); noise from the control.
    const growth = (xs: number[]) => xs[xs.length - 1]! - xs[1]!;
    const spread = (xs: number[]) => Math.max(...xs.slice(1)) - Math.min(...xs.slice(1));
    const bound = Math.max(3 * spread(controlSamples), growth(controlSamples) + 2 * MB, 4 * MB);
    figures.push(
      `bare ${controlSamples.map(mb).join(' → ')}; with contextvars ${samples.map(mb).join(' → ')}; growth ${mb(growth(samples))} MB, bound ${mb(bound)} MB`,
    );
    expect(growth(samples)).toBeLessThanOrEqual(bound);
    await settle();
    expect(await collectedAll(alive)).toBe(true);
  }, 120_000);

  it('thrown errors and clients aborting mid-body, mid-response and mid-stream leave nothing behind', async () => {
    const { alive, track } = tracker();
    const base = await start(createApp({ onRequestObject: (obj) => track(obj) }));
    const before = await heapUsed();
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const headers = { 'x-value': `r${round}-${i}` };
          switch (i % 5) {
            case 0:
              return abortMidBody(`${base}/work`, headers);
            case 1:
              return send(`${base}/work`, { headers, timeoutMs: 1 }).catch(() => undefined);
            case 2:
              return abortMidResponse(`${base}/stream`, headers);
            default:
              return send(`${base}/work`, { headers }); // some of them fail on purpose
          }
        }),
      );
    }
    await settle();
    const after = await heapUsed();
    figures.push(
      `with errors and aborts: 1000 requests (600 aborted or failed), heap ${mb(before)} → ${mb(after)} MB, ${alive.size} request objects left`,
    );
    expect(await collectedAll(alive)).toBe(true);
    expect(after - before).toBeLessThan(8 * MB);
  }, 60_000);
});
