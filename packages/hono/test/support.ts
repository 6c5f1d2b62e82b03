/**
 * Hono apps on real `@hono/node-server` servers (the current major and 1.x) on
 * 127.0.0.1, closed after each test.
 */
import type { Server } from 'node:http';
import { createAdaptorServer as createServer2 } from '@hono/node-server';
import type { Hono } from 'hono';
import { createAdaptorServer as createServer1 } from 'hono-node-server1';
import { afterEach } from 'vitest';
import { close, listen } from '../../../test/support/http.js';

type Fetch = Hono['fetch'];
export type ServerFactory = (options: { fetch: Fetch }) => Server;

/** Every `@hono/node-server` major the package is tested on. */
export const NODE_SERVERS: Array<[string, ServerFactory]> = [
  ['@hono/node-server 2', createServer2 as unknown as ServerFactory],
  ['@hono/node-server 1', createServer1 as unknown as ServerFactory],
];

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s).catch(() => {});
});

/** Serves `app` on an ephemeral port of 127.0.0.1; returns the base URL. */
export function start(app: { fetch: Fetch }, factory: ServerFactory = NODE_SERVERS[0]![1]) {
  const server = factory({ fetch: app.fetch });
  servers.push(server);
  return listen(server);
}

/** Reads a streamed response body line by line as it arrives. */
export async function readLines(res: Response): Promise<string[]> {
  return (await res.text()).split('\n').filter((l) => l.length > 0);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
