/**
 * worker_threads, for real: requests served by Fastify with the contextvars
 * plugin hand tasks to worker threads by postMessage and by workerData; each
 * result must carry its own request's values, never another's, and never a
 * value that was not declared.
 */
import { Worker } from 'node:worker_threads';
import { requestId } from '@contextvars/core';
import { contextvars } from '@contextvars/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Carried } from '../src/index.js';
import { apiKey, carrier, tenant, user } from './fixtures/declaration.js';
import type { Task } from './fixtures/worker.js';

const WORKER = new URL('./fixtures/worker.mjs', import.meta.url);

interface Result {
  id: number;
  tenant?: string;
  user?: { id: number; name: string };
  requestId?: string;
  apiKey?: string;
}

/** A small pool: tasks go round-robin to long-lived workers by postMessage. */
class Pool {
  readonly workers: Worker[];
  readonly #pending = new Map<number, (r: Result) => void>();
  #next = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(WORKER);
      w.on('message', (r: Result) => {
        this.#pending.get(r.id)?.(r);
        this.#pending.delete(r.id);
      });
      return w;
    });
  }

  ready(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => new Promise((r) => w.once('online', r))));
  }

  run(task: Task): Promise<Result> {
    const worker = this.workers[this.#next++ % this.workers.length]!;
    return new Promise((resolve) => {
      this.#pending.set(task.id, resolve);
      // The whole hand-off: the task wrapped with the current context's record.
      worker.postMessage(carrier.wrap(task));
    });
  }

  close(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Runs one-shot workers with `workerData`, at most `limit` at a time. */
function oneShot(limit: number) {
  let running = 0;
  const queue: Array<() => void> = [];
  return async (data: Carried<{ tasks: Task[] }>): Promise<Result[]> => {
    if (running >= limit) await new Promise<void>((r) => queue.push(r));
    running++;
    try {
      const worker = new Worker(WORKER, { workerData: data });
      return await new Promise<Result[]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }).finally(() => worker.terminate());
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

const REQUESTS = 100;
const TASKS = 10;
let app: FastifyInstance;
let url: string;
const pool = new Pool(4);
const spawn = oneShot(4);

beforeAll(async () => {
  app = Fastify();
  await app.register(contextvars, {
    onRequest: (req) => {
      const n = Number(req.headers['x-user']);
      tenant.set(`tenant-${n % 7}`);
      user.set({ id: n, name: `user ${n}` });
      apiKey.set(`secret-${n}`);
    },
  });
  app.get('/pool/:n', async (req) => {
    const n = Number((req.params as { n: string }).n);
    // Ten tasks per request, all in flight at once, interleaved with other requests'.
    const tasks = Array.from({ length: TASKS }, (_, i) => pool.run({ id: n * TASKS + i }));
    return { requestId: requestId.get(), results: await Promise.all(tasks) };
  });
  app.get('/one-shot/:n', async (req) => {
    const n = Number((req.params as { n: string }).n);
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: n * TASKS + i }));
    return { requestId: requestId.get(), results: await spawn(carrier.wrap({ tasks })) };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  url = `http://127.0.0.1:${port}`;
  await pool.ready();
});

afterAll(async () => {
  await app?.close();
  await pool.close();
});

function expectOwn(n: number, body: { requestId: string; results: Result[] }) {
  expect(body.requestId).toBe(`req-${n}`);
  expect(body.results).toHaveLength(TASKS);
  for (const [i, r] of body.results.entries()) {
    expect(r).toEqual({
      id: n * TASKS + i,
      tenant: `tenant-${n % 7}`,
      user: { id: n, name: `user ${n}` },
      requestId: `req-${n}`,
    });
  }
}

async function requests(path: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, n) =>
      fetch(`${url}${path}/${n}`, {
        headers: { 'x-user': String(n), 'x-request-id': `req-${n}` },
      }).then(async (res) => {
        expect(res.status).toBe(200);
        return (await res.json()) as { requestId: string; results: Result[] };
      }),
    ),
  );
}

describe('worker_threads', () => {
  it(`postMessage: ${REQUESTS * TASKS} tasks from ${REQUESTS} concurrent requests, each with its own request’s values`, async () => {
    const bodies = await requests('/pool', REQUESTS);
    for (const [n, body] of bodies.entries()) expectOwn(n, body);
    // The undeclared secret never crossed (expectOwn's toEqual has no apiKey).
    expect(bodies.flatMap((b) => b.results).filter((r) => r.apiKey !== undefined)).toEqual([]);
  }, 60_000);

  it(`workerData: ${REQUESTS * TASKS} tasks from ${REQUESTS} concurrent requests, a worker each, every task with its request’s values`, async () => {
    const bodies = await requests('/one-shot', REQUESTS);
    for (const [n, body] of bodies.entries()) expectOwn(n, body);
    expect(bodies.flatMap((b) => b.results).filter((r) => r.apiKey !== undefined)).toEqual([]);
  }, 180_000);

  it('a task posted outside any request carries nothing and still runs', async () => {
    const r = await pool.run({ id: 1e6 });
    expect(r).toEqual({ id: 1e6 });
  });

  it('a worker keeps serving after a malformed message', async () => {
    const worker = pool.workers[0]!;
    const answer = new Promise<Result>((resolve) => worker.once('message', resolve));
    // Not an envelope at all: handled as its own payload, in an empty Context.
    worker.postMessage({ id: 2e6 });
    expect(await answer).toEqual({ id: 2e6 });
    const tampered = new Promise<Result>((resolve) => worker.once('message', resolve));
    worker.postMessage({ carry: { v: 1, vars: { tenant: 42 } }, payload: { id: 3e6 } });
    expect(await tampered).toEqual({ id: 3e6 });
  });
});
