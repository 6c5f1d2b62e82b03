/**
 * The request id var that every framework adapter sets and the logging bridge
 * reads, and the policy that decides whether an incoming id may be kept.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ContextVar } from './context-var.js';
import { runtime } from './runtime.js';

/**
 * The current request's id: set by `@contextvars/fastify`, `@contextvars/express`
 * and `@contextvars/koa` for every request, read by the logging bridge. Outside a
 * request it has no value: read it with a fallback, `requestId.get(undefined)`.
 *
 * One var per process, shared by every copy of this package.
 */
export const requestId: ContextVar<string> = (() => {
  const existing = runtime.shared.get('requestId');
  if (existing !== undefined) return existing as ContextVar<string>;
  const created = new ContextVar<string>('requestId');
  runtime.shared.set('requestId', created);
  return created;
})();

/** Longest incoming request id that is kept. */
export const MAX_REQUEST_ID_LENGTH = 128;

// Letters, digits and `._:@/+=-`: enough for UUIDs, ULIDs, trace ids and base64,
// nothing that can split a header or a log line (no spaces, commas, quotes, CR/LF).
const VALID_REQUEST_ID = new RegExp(`^[A-Za-z0-9._:@/+=-]{1,${MAX_REQUEST_ID_LENGTH}}$`);

/**
 * Whether `value` may be used as a request id as it is: a string of 1 to 128
 * characters from `[A-Za-z0-9._:@/+=-]`. A header sent twice arrives joined with
 * `", "` (or as an array) and is therefore rejected.
 */
export function isValidRequestId(value: unknown): value is string {
  return typeof value === 'string' && VALID_REQUEST_ID.test(value);
}

/** A new random request id (`crypto.randomUUID()`). */
export function generateRequestId(): string {
  return randomUUID();
}
