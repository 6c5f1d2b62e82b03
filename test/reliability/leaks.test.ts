import { afterAll, describe, expect, it } from 'vitest';
import { createApp, FRAMEWORKS } from '../support/apps.js';
import { drive, heapUsed, mb } from '../support/heap.js';
import {
  abortMidBody,
  close,
  collectedAll,
  listen,
  send,
  settle,
  tracker,
} from '../support/http.js';

const TOTAL = 100_000;
const SAMPLE_EVERY = 20_000;
const CONCURRENCY = 50;
const MB = 1024 * 1024;
const figures: string[] = [];
afterAll(() => {
  console.log(`memory over ${TOTAL} requests (heap used after GC, MB):\n  ${figures.join('\n  ')}`);
});

describe.each(FRAMEWORKS)('%s: memory stays flat', (framework) => {
  it(`${TOTAL} requests: heap growth within the noise of a bare ${framework} run`, async () => {
    const control = await createApp(framework, { bare: true });
    const controlSamples = await drive(await listen(control), TOTAL, SAMPLE_EVERY, {
      path: '/sync',
      concurrency: CONCURRENCY,
    });
    await close(control);

    const { alive, track } = tracker();
    let n = 0;
    const server = await createApp(framework, {
      onRequestObject: (obj) => n++ % 1000 === 0 && track(obj),
    });
    const samples = await drive(await listen(server), TOTAL, SAMPLE_EVERY, {
      path: '/sync',
      concurrency: CONCURRENCY,
    });
    await close(server);

    // Growth after the first sample (warm-up: JIT, caches, pools); noise from the control.
    const growth = (xs: number[]) => xs[xs.length - 1]! - xs[1]!;
    const spread = (xs: number[]) => Math.max(...xs.slice(1)) - Math.min(...xs.slice(1));
    const bound = Math.max(3 * spread(controlSamples), growth(controlSamples) + 2 * MB, 4 * MB);
    figures.push(
      `${framework}: bare ${controlSamples.map(mb).join(' → ')}; with contextvars ${samples.map(mb).join(' → ')}; growth ${mb(growth(samples))} MB, bound ${mb(bound)} MB`,
    );
    expect(growth(samples)).toBeLessThanOrEqual(bound);
    await settle();
    expect(await collectedAll(alive)).toBe(true); // every sampled request's Context is gone
  }, 300_000);

  it('clients aborting half the requests mid-body and mid-response leave nothing behind', async () => {
    const { alive, track } = tracker();
    const server = await createApp(framework, { onRequestObject: (obj) => track(obj) });
    const base = await listen(server);
    const before = await heapUsed();
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          if (i % 4 === 0) return abortMidBody(`${base}/work`, { 'x-value': `a${i}` });
          if (i % 4 === 1) {
            return send(`${base}/work`, { headers: { 'x-value': `b${i}` }, timeoutMs: 1 }).catch(
              () => undefined,
            );
          }
          return send(`${base}/work`, { headers: { 'x-value': `c${i}` } });
        }),
      );
    }
    await settle();
    const after = await heapUsed();
    await close(server);
    figures.push(
      `${framework} with aborts: 1000 requests (500 aborted), heap ${mb(before)} → ${mb(after)} MB, ${alive.size} request objects left`,
    );
    expect(await collectedAll(alive)).toBe(true);
    expect(after - before).toBeLessThan(8 * MB);
  });
});
