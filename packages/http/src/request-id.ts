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

// A per-process key: 90 random bits in UUID version-4 layout, and a 32-bit mask.
let prefix = '';
let mask = 0;
let counter = 2 ** 32; // past the end: the first id makes the key
/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function rekey(): void {
  const seed = crypto.randomUUID();
  prefix = seed.slice(0, 28);
  mask = Number.parseInt(seed.slice(28), 16) | 0;
  counter = 1;
}

/**
 * A new request id in UUID form (version-4 layout, 36 characters), made for the
 * hot path: a per-process random key of 90 bits, then a counter passed through a
 * 32-bit bijection and masked with the key (so no two ids of one key repeat, and
 * consecutive ones do not read as a sequence; the key is renewed every 2³² ids). Ids are as unique as random UUIDs across processes and
 * unique within one, for about a tenth of the cost of `crypto.randomUUID()`; they
 * are identifiers, not secrets. Pass `generateRequestId: () => crypto.randomUUID()`
 * for ids drawn whole from the system's random source.
 */
export function generateRequestId(): string {
  if (counter > 0xffffffff) rekey();
  const n = scramble(counter++) ^ mask;
  // Four table reads: `Number#toString(16)` goes through a floating-point radix conversion.
  return (
    prefix + HEX[n >>> 24]! + HEX[(n >>> 16) & 0xff]! + HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!
  );
}

/** A bijection of 32-bit integers that spreads consecutive ones (MurmurHash3's finalizer). */
function scramble(n: number): number {
  let h = n | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * An HTTP token (RFC 9110 §5.6.2): the grammar of header names and of W3C baggage
 * keys. One pattern for every package that checks either.
 */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
