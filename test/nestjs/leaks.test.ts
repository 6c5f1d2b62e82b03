/**
 * Retention with @contextvars/nestjs (NestJS 12, both platforms): heap over 100,000
 * requests against a bare Nest app as the control, every sampled request object
 * collected, and clients aborting mid-body and mid-response leave nothing behind.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { drive, heapUsed, mb } from '../support/heap.js';
import { abortMidBody, collectedAll, send, settle, tracker } from '../support/http.js';
import { PLATFORMS, startApp } from './apps.js';
import * as nest from './v12/nest.js';

const TOTAL = 100_000;
// The control only measures the noise of a bare Nest app: a shorter run does.
const CONTROL = 20_000;
const SAMPLES = 5;
const CONCURRENCY = 50;
const MB = 1024 * 1024;
const figures: string[] = [];
afterAll(() => {
  console.log(`NestJS memory (heap used after GC, MB):\n  ${figures.join('\n  ')}`);
});

describe.each(PLATFORMS)(
  'NestJS 12 on platform-%s: nothing of a request is retained',
  (platform) => {
    it(`${TOTAL} requests: heap growth within the noise of a bare Nest app`, async () => {
      const control = await startApp(nest, platform, { contextvars: false });
      const controlSamples = await drive(control.base, CONTROL, CONTROL / SAMPLES, {
        path: '/r/sync',
        concurrency: CONCURRENCY,
        headers: { 'x-fast': '1' },
      });
      await control.close();

      const { alive, track } = tracker();
      let n = 0;
      const app = await startApp(nest, platform, {
        contextvars: {},
        onRequestObject: (req) => n++ % 1000 === 0 && track(req),
      });
      const samples = await drive(app.base, TOTAL, TOTAL / SAMPLES, {
        path: '/r/sync',
        concurrency: CONCURRENCY,
        headers: { 'x-fast': '1' },
      });
      await app.close();

      const growth = (xs: number[]) => xs[xs.length - 1]! - xs[1]!;
      const spread = (xs: number[]) => Math.max(...xs.slice(1)) - Math.min(...xs.slice(1));
      const bound = Math.max(3 * spread(controlSamples), growth(controlSamples) + 2 * MB, 4 * MB);
      figures.push(
        `${platform}: bare (${CONTROL}) ${controlSamples.map(mb).join(' → ')}; with contextvars (${TOTAL}) ${samples.map(mb).join(' → ')}; growth ${mb(growth(samples))} MB, bound ${mb(bound)} MB`,
      );
      expect(growth(samples)).toBeLessThanOrEqual(bound);
      await settle();
      expect(await collectedAll(alive)).toBe(true);
    }, 240_000);

    it('clients aborting mid-body and mid-response, and thrown errors, leave nothing behind', async () => {
      const { alive, track } = tracker();
      const app = await startApp(nest, platform, {
        contextvars: {},
        onRequestObject: (req) => track(req),
      });
      const before = await heapUsed();
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => {
            if (i % 4 === 0) return abortMidBody(`${app.base}/r/echo`, { 'x-value': `a${i}` });
            if (i % 4 === 1) {
              return send(`${app.base}/r/slow`, { timeoutMs: 5 }).catch(() => undefined);
            }
            if (i % 4 === 2) return send(`${app.base}/r/fail`);
            return send(`${app.base}/r/slow`);
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 100)); // the aborted slow handlers finish
      await settle();
      const after = await heapUsed();
      await app.close();
      figures.push(
        `${platform} with aborts and errors: 1000 requests, heap ${mb(before)} → ${mb(after)} MB, ${alive.size} request objects left`,
      );
      expect(await collectedAll(alive)).toBe(true);
      expect(after - before).toBeLessThan(8 * MB);
    }, 60_000);
  },
);
