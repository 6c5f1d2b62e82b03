import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, FRAMEWORKS } from '../support/apps.js';
import { close, listen, send, sleep, watchUncaught } from '../support/http.js';

describe.each(FRAMEWORKS)('%s: faults', (framework) => {
  const handled: Array<{ id: string | undefined; value: string | undefined; message: string }> = [];
  const lines: string[] = [];
  let base: string;
  let server: Awaited<ReturnType<typeof createApp>>;
  let uncaught: ReturnType<typeof watchUncaught>;
  beforeAll(async () => {
    uncaught = watchUncaught();
    server = await createApp(framework, {
      log: (line) => lines.push(line),
      onHandledError: (seen) => handled.push(seen),
    });
    base = await listen(server);
  });
  afterAll(async () => {
    uncaught.stop();
    await close(server);
  });

  it('an error in a hook/middleware reaches the error handler in the failing request’s context', async () => {
    const res = await send(`${base}/work`, {
      headers: { 'x-fail': 'hook', 'x-request-id': 'hook-1', 'x-value': 'hv' },
    });
    expect(res.status).toBe(500);
    expect(res.json().id).toBe('hook-1');
    expect(handled.find((h) => h.message === 'hook failed')).toEqual({
      id: 'hook-1',
      value: 'hv',
      message: 'hook failed',
    });
  });

  it('a synchronous throw in a hook/middleware reaches the error handler in context', async () => {
    const res = await send(`${base}/work`, {
      headers: { 'x-fail': 'sync-hook', 'x-request-id': 'sync-hook-1', 'x-value': 'sh' },
    });
    expect(res.status).toBe(500);
    expect(handled.find((h) => h.message === 'sync hook failed')).toEqual({
      id: 'sync-hook-1',
      value: 'sh',
      message: 'sync hook failed',
    });
  });

  it('an error handler that throws gives a 500, and the connection serves the next request cleanly', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const res = await send(`${base}/fail`, {
        headers: { 'x-request-id': 'eh-1', 'x-value': 'error-handler-throws' },
        agent,
      });
      expect(res.status).toBe(500);
      const next = await send(`${base}/sync`, {
        headers: { 'x-request-id': 'eh-2', 'x-value': 'fine' },
        agent,
      });
      expect(next.json()).toEqual({ id: 'eh-2', value: 'fine' });
    } finally {
      agent.destroy();
    }
  });

  it('an async throw in a handler: the error handler’s log line carries the request id', async () => {
    const res = await send(`${base}/fail`, {
      headers: { 'x-request-id': 'fail-1', 'x-value': 'fv' },
    });
    expect(res.status).toBe(500);
    expect(handled.find((h) => h.id === 'fail-1')).toEqual({
      id: 'fail-1',
      value: 'fv',
      message: 'handler failed',
    });
    const line = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'request failed' && l.request_id === 'fail-1');
    expect(line.request_id).toBe('fail-1');
    expect(line.value).toBe('fv');
  });

  it('a body the parser rejects gets the framework’s 4xx, in context', async () => {
    const res = await send(`${base}/work`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bad-json' },
      body: '{"broken": ',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['x-request-id']).toBe('bad-json');
  });

  it('a handler that never awaits sees its values', async () => {
    const res = await send(`${base}/sync`, {
      headers: { 'x-request-id': 'sync-1', 'x-value': 'sv' },
    });
    expect(res.json()).toEqual({ id: 'sync-1', value: 'sv' });
  });

  it('a stream response that fails midway ends that response only; its failure is seen in its context', async () => {
    const res = await send(`${base}/stream-fail`, {
      headers: { 'x-request-id': 'stream-1', 'x-value': 'st' },
    }).catch((e: Error) => e);
    if (!(res instanceof Error)) expect(res.body.length).toBeGreaterThanOrEqual(0);
    await sleep(30);
    expect(handled.find((h) => h.message === 'stream failed midway')).toEqual({
      id: 'stream-1',
      value: 'st',
      message: 'stream failed midway',
    });
    const after = await send(`${base}/sync`, {
      headers: { 'x-request-id': 'after-stream', 'x-value': 'ok' },
    });
    expect(after.json()).toEqual({ id: 'after-stream', value: 'ok' });
  });

  it('a failing request never affects the next one on the same keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const failed = await send(`${base}/fail`, {
          headers: { 'x-request-id': `ka-fail-${i}`, 'x-value': `bad${i}` },
          agent,
        });
        expect(failed.status).toBe(500);
        const next = await send(`${base}/sync`, {
          headers: { 'x-request-id': `ka-ok-${i}` },
          agent,
        });
        expect(next.json()).toEqual({ id: `ka-ok-${i}` });
      }
    } finally {
      agent.destroy();
    }
  });

  it('no uncaught exception or unhandled rejection during the run', () => {
    expect(uncaught.count).toBe(0);
  });
});
