import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildService } from '../src/service.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

let service: FastifyInstance;
let serviceUrl: string;
let harness: Server;
let harnessUrl: string;
const received: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  service = await buildService();
  await service.listen({ port: 0, host: '127.0.0.1' });
  serviceUrl = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}/test`;
  // Stands in for the W3C harness: records the headers of each callback.
  harness = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('null'));
  });
  harness.listen(0, '127.0.0.1');
  await once(harness, 'listening');
  harnessUrl = `http://127.0.0.1:${(harness.address() as AddressInfo).port}/callback`;
});

afterAll(async () => {
  await service.close();
  harness.close();
});

async function run(headers: Record<string, string>, calls = 1): Promise<IncomingHttpHeaders[]> {
  received.length = 0;
  const body = Array.from({ length: calls }, () => ({ url: harnessUrl, arguments: [] }));
  const response = await fetch(serviceUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return received.slice();
}

describe('W3C test service', () => {
  it('continues an incoming trace: same trace id, a new parent id per call, flags and tracestate kept', async () => {
    const callbacks = await run(
      { traceparent: `00-${TRACE}-${PARENT}-03`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61' },
      2,
    );
    expect(callbacks).toHaveLength(2);
    const parents = new Set<string>();
    for (const headers of callbacks) {
      const [version, traceId, parentId, flags] = String(headers.traceparent).split('-');
      expect(version).toBe('00');
      expect(traceId).toBe(TRACE);
      expect(parentId).not.toBe(PARENT);
      expect(flags).toBe('03'); // sampled, and the random flag the SDK's span dropped
      expect(headers.tracestate).toBe('rojo=00f067aa0ba902b7,congo=t61');
      parents.add(String(parentId));
    }
    expect(parents.size).toBe(2);
  });

  it('starts a new trace when the incoming traceparent is invalid', async () => {
    const [headers] = await run({ traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` });
    expect(headers?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
    expect(String(headers?.traceparent).split('-')[1]).not.toBe('0'.repeat(32));
  });
});
