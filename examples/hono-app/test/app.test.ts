import type { Server } from 'node:http';
import { createLogger, memoryDestination } from '@contextvars/example-shared';
import { exampleSuite } from '@contextvars/example-shared/suite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, createApp } from '../src/app.js';

exampleSuite('hono', async (destination) => buildApp(createLogger(destination)));

describe('hono example, beyond the shared suite', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = buildApp(createLogger(memoryDestination()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('server-sent events written after the handler returned still know the user', async () => {
    const res = await fetch(`${base}/countdown`, {
      headers: { authorization: 'Bearer bob-token', 'x-request-id': 'hono-sse' },
    });
    expect(res.headers.get('x-request-id')).toBe('hono-sse');
    const events = (await res.text()).split('\n').filter((l) => l.startsWith('data: '));
    expect(events).toEqual(['data: 3 for bob', 'data: 2 for bob', 'data: 1 for bob']);
  });

  it('the same app answers through app.fetch, as Bun and Deno call it', async () => {
    const logs = memoryDestination();
    const app = createApp(createLogger(logs));
    const res = await app.fetch(
      new Request('http://localhost/hello', {
        headers: { authorization: 'Bearer alice-token', 'x-request-id': 'hono-fetch' },
      }),
    );
    expect(await res.json()).toEqual({ message: 'hello alice' });
    expect(logs.lines.find((l) => l.msg === 'greeting')).toMatchObject({
      request_id: 'hono-fetch',
      user_id: 'u-1',
    });
  });
});
