/**
 * Heap measurement for the retention tests: the heap used after full GCs, sampled
 * while a server answers many keep-alive requests.
 */
import { Agent } from 'node:http';
import { send } from './http.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap used after three full GCs, a turn of the event loop apart. */
export async function heapUsed(): Promise<number> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** Options of {@link drive}. */
export interface DriveOptions {
  /** Path requested. */
  path: string;
  /** Requests in flight at once. Default 50. */
  concurrency?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/**
 * Sends `total` GET requests of `path` to `base`, `concurrency` at a time on
 * keep-alive sockets, each with its own `x-request-id` and `x-value`; samples the
 * heap before and after every `every` requests.
 */
export async function drive(
  base: string,
  total: number,
  every: number,
  { path, concurrency = 50, headers = {} }: DriveOptions,
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples = [await heapUsed()];
  let sent = 0;
  try {
    while (sent < total) {
      const batch = Math.min(every, total - sent);
      let next = 0;
      const worker = async () => {
        while (next < batch) {
          const i = sent + next++;
          await send(`${base}${path}`, {
            headers: { 'x-request-id': `m${i}`, 'x-value': `v${i}`, ...headers },
            agent,
          });
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      sent += batch;
      samples.push(await heapUsed());
    }
  } finally {
    agent.destroy();
  }
  return samples;
}

/** Bytes as megabytes, one decimal. */
export const mb = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);
