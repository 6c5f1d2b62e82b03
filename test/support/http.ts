/**
 * Test helpers: real servers on 127.0.0.1 and a small HTTP client with keep-alive,
 * bounded in time.
 */
import {
  type Agent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { type AddressInfo, connect } from 'node:net';

/** Listens on an ephemeral port of 127.0.0.1; returns the base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  agent?: Agent;
  timeoutMs?: number;
}

/** Reads a whole response into a {@link Response}. */
function readResponse(
  res: IncomingMessage,
  resolve: (r: Response) => void,
  reject: (e: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    resolve({
      status: res.statusCode ?? 0,
      headers: res.headers,
      rawHeaders: res.rawHeaders,
      body,
      json: () => JSON.parse(body),
    });
  });
  res.on('error', reject);
}

/** One HTTP request; rejects after `timeoutMs` (default 10 s) instead of hanging. */
export function send(url: string, options: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      (res) => readResponse(res, resolve, reject),
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export function postJson(url: string, value: unknown, headers: Record<string, string> = {}) {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  });
}

/** Sends the body in chunks, with pauses, so that the server sees several 'data' events. */
export function sendChunked(
  url: string,
  chunks: string[],
  headers: Record<string, string> = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'transfer-encoding': 'chunked', ...headers }, agent: false },
      (res) => readResponse(res, resolve, reject),
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    let i = 0;
    const next = () => {
      if (i < chunks.length) {
        req.write(chunks[i++]);
        setTimeout(next, 5);
      } else {
        req.end();
      }
    };
    next();
  });
}

/** Opens a request, sends part of a body, then destroys the socket. */
export function abortMidBody(url: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: 'POST',
      headers: { 'content-length': '100000', 'content-type': 'application/json', ...headers },
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write('{"partial":');
    setTimeout(() => req.destroy(), 20);
  });
}

/** Opens a GET and destroys the socket as soon as the response headers arrive. */
export function abortMidResponse(url: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      res.once('data', () => req.destroy());
      res.on('error', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Forces GC until every tracked object is collected or the attempts run out. */
export async function collectedAll(alive: Set<unknown>, attempts = 40): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the tests with --expose-gc');
  for (let i = 0; i < attempts && alive.size > 0; i++) {
    gc();
    await sleep(5);
  }
  return alive.size === 0;
}

/** Tracks objects with a FinalizationRegistry. */
export function tracker() {
  const alive = new Set<number>();
  let next = 0;
  const registry = new FinalizationRegistry<number>((n) => alive.delete(n));
  return {
    alive,
    track(obj: object) {
      const n = next++;
      alive.add(n);
      registry.register(obj, n);
    },
  };
}

/** Request ids that must never be kept or echoed, with why. */
export const HOSTILE_REQUEST_IDS: Array<[string, string]> = [
  ['empty', ''],
  ['too long', 'a'.repeat(129)],
  ['10 KB', 'b'.repeat(10_240)],
  ['space', 'abc def'],
  ['comma (a repeated header joined)', 'abc, def'],
  ['quote', 'abc"def'],
  ['semicolon', 'abc;def'],
  ['non-ASCII', 'abcé'],
  ['JSON breaker', '","level":"fatal'],
  ['angle brackets', '<script>'],
];

/** Request ids that Node's client refuses to send: they go through {@link rawRequest}. */
export const RAW_HOSTILE_REQUEST_IDS: Array<[string, string]> = [
  ['control character', 'abc\u0001def'],
  ['tab inside', 'abc\tdef'],
  ['DEL', 'abc\u007fdef'],
  ['bare CR (header injection)', 'abc\rSet-Cookie: x=1'],
];

/** Writes `head` verbatim on a new socket; resolves with everything the server answers. */
export function rawRequest(baseUrl: string, head: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(head));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy());
  });
}

/**
 * Waits out Node's own per-process caches that hold the context of the request
 * that created them: the HTTP `Date` header cache re-arms a timer at most once a
 * second, in the context of whichever request needed it. One such context at a
 * time, for at most a second, is Node's behaviour, not a leak of ours.
 */
export const settle = () => sleep(1100);

/** Posts a multipart form (the form-data package) to `url`; resolves with the parsed JSON answer. */
export function postForm(
  url: string,
  form: {
    submit(params: object, cb: (err: Error | null, res: IncomingMessage) => void): unknown;
  },
  headers: Record<string, string> = {},
): Promise<any> {
  const { port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    form.submit({ host: '127.0.0.1', port, path: pathname, headers }, (err, res) => {
      if (err) return reject(err);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(JSON.parse(body)));
    });
  });
}

/** Counts uncaught exceptions and unhandled rejections until `stop()`. */
export function watchUncaught(): { readonly count: number; stop(): void } {
  let count = 0;
  const onError = () => {
    count++;
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    get count() {
      return count;
    },
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}
