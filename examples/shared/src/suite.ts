/**
 * The behaviour every example app must show, driven over real HTTP on 127.0.0.1.
 * Each example's test calls it with a function that starts the app.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, listen, postJson, send } from './http.js';
import { memoryDestination } from './index.js';

export type StartApp = (destination: ReturnType<typeof memoryDestination>) => Promise<Server>;

export function exampleSuite(name: string, start: StartApp): void {
  describe(`${name} example`, () => {
    const logs = memoryDestination();
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = await start(logs);
      base = server.listening
        ? `http://127.0.0.1:${(server.address() as { port: number }).port}`
        : await listen(server);
    });
    afterAll(() => close(server));

    const alice = { authorization: 'Bearer alice-token' };

    it('a service module reads the user and logs with the request id, without parameters', async () => {
      const res = await send(`${base}/hello`, {
        headers: { ...alice, 'x-request-id': `${name}-hello` },
      });
      expect(res.json()).toEqual({ message: 'hello alice' });
      expect(res.headers['x-request-id']).toBe(`${name}-hello`);
      const line = logs.lines.find((l) => l.msg === 'greeting' && l.request_id === `${name}-hello`);
      expect(line).toMatchObject({ user_id: 'u-1', anonymous: false });
    });

    it('POST with a JSON body', async () => {
      const res = await postJson(
        `${base}/orders`,
        { item: 'book', quantity: 2 },
        { ...alice, 'x-request-id': `${name}-order` },
      );
      expect(res.status).toBe(201);
      expect(res.json()).toMatchObject({ item: 'book', quantity: 2, owner: 'u-1' });
      expect(logs.lines.find((l) => l.msg === 'order created')).toMatchObject({
        request_id: `${name}-order`,
        user_id: 'u-1',
      });
    });

    it('the error handler’s log line carries the failing request’s id', async () => {
      const res = await send(`${base}/fail`, { headers: { 'x-request-id': `${name}-fail` } });
      expect(res.status).toBe(500);
      expect(res.json()).toEqual({ error: 'something broke', requestId: `${name}-fail` });
      const line = logs.lines.find((l) => l.msg === 'request failed');
      expect(line?.request_id).toBe(`${name}-fail`);
      expect(line?.err?.message).toBe('something broke');
    });

    it('concurrent users never see each other', async () => {
      const tokens = ['Bearer alice-token', 'Bearer bob-token', undefined];
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => {
          const authorization = tokens[i % 3];
          const headers: Record<string, string> = { 'x-request-id': `${name}-c${i}` };
          if (authorization) headers.authorization = authorization;
          return send(`${base}/hello`, { headers }).then((r) => r.json().message);
        }),
      );
      for (const [i, message] of results.entries()) {
        expect(message).toBe(['hello alice', 'hello bob', 'hello stranger'][i % 3]);
      }
      for (let i = 0; i < 60; i++) {
        const line = logs.lines.find(
          (l) => l.msg === 'greeting' && l.request_id === `${name}-c${i}`,
        );
        expect(line?.user_id).toBe([`u-1`, `u-2`, undefined][i % 3]);
      }
    });
  });
}
