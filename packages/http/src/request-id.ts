/**
 * The request-id policy: which incoming ids may be kept as they are, and how new
 * ones are made. Framework-neutral (Web Crypto's `randomUUID`, no `node:` import).
 *
 * @module
 */

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
  return crypto.randomUUID();
}

/**
 * An HTTP token (RFC 9110 §5.6.2): the grammar of header names and of W3C baggage
 * keys. One pattern for every package that checks either.
 */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
