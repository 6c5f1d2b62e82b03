/**
 * What the example suites need of HTTP, with Node's own `fetch`: the examples are
 * what users copy, so they use no test-only helpers.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A response read whole: status, headers (lower-case names), and the body parsed as JSON. */
export interface ReadResponse {
  status: number;
  headers: Record<string, string>;
  json(): any;
}

/** Starts `server` on a free port of 127.0.0.1; resolves with its base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

/** Stops `server`, closing idle keep-alive connections. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}

/** Sends a request and reads the whole response. */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<ReadResponse> {
  const res = await fetch(url, init);
  const text = await res.text();
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    json: () => JSON.parse(text),
  };
}

/** POSTs `value` as JSON. */
export function postJson(
  url: string,
  value: unknown,
  headers: Record<string, string> = {},
): Promise<ReadResponse> {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  });
}
