/**
 * W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage (`baggage`)
 * parsing and formatting, strict on input: anything malformed is ignored, never
 * thrown, and nothing unbounded is kept.
 *
 * @module
 */

/** A parsed `traceparent`. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_TRACEPARENT = 512;

/**
 * Parses a `traceparent` header. Rejects: anything not a single string, version
 * `ff`, version `00` with extra fields, upper-case hex, all-zero trace or span id,
 * wrong lengths.
 */
export function parseTraceParent(header: unknown): TraceParent | undefined {
  if (typeof header !== 'string' || header.length > MAX_TRACEPARENT) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 0xff };
}

/** Formats a `traceparent` header (version 00). */
export function formatTraceParent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.spanId}-${(tp.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Longest `tracestate` kept (W3C: vendors must propagate at least 512 characters). */
export const MAX_TRACESTATE_LENGTH = 8192;

/** W3C Baggage limits: list members and bytes of the whole header. */
export const BAGGAGE_MAX_MEMBERS = 64;
export const BAGGAGE_MAX_BYTES = 8192;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAGGAGE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/; // baggage-octet, percent-encoded

/**
 * Parses `baggage` header(s) into entries. Malformed members (bad key, bad
 * percent-encoding, characters outside the grammar) are skipped; at most 64
 * members and 8192 bytes are read; a later duplicate key wins.
 */
export function parseBaggage(header: unknown): Map<string, string> {
  const entries = new Map<string, string>();
  const text = Array.isArray(header)
    ? header.filter((h) => typeof h === 'string').join(',')
    : header;
  if (typeof text !== 'string' || text.length === 0) return entries;
  let bytes = 0;
  let members = 0;
  for (const raw of text.split(',')) {
    const member = raw.trim();
    if (member.length === 0) continue;
    bytes += Buffer.byteLength(member) + (members > 0 ? 1 : 0);
    if (++members > BAGGAGE_MAX_MEMBERS || bytes > BAGGAGE_MAX_BYTES) break;
    const keyValue = member.split(';', 1)[0]!;
    const eq = keyValue.indexOf('=');
    if (eq <= 0) continue;
    const key = keyValue.slice(0, eq).trim();
    const encoded = keyValue.slice(eq + 1).trim();
    if (!TOKEN.test(key) || !BAGGAGE_VALUE.test(encoded)) continue;
    try {
      entries.set(key, decodeURIComponent(encoded));
    } catch {
      // invalid percent-encoding: skip the member
    }
  }
  return entries;
}

/**
 * Formats entries as a `baggage` header value, percent-encoding values. Members
 * that would break the limits (64 members, 8192 bytes) are dropped whole, never
 * cut; keys that are not tokens are dropped. Returns `''` when nothing fits.
 */
export function formatBaggage(entries: Iterable<readonly [string, string]>): string {
  const parts: string[] = [];
  let bytes = 0;
  for (const [key, value] of entries) {
    if (!TOKEN.test(key)) continue;
    const member = `${key}=${encodeURIComponent(value)}`;
    const size = member.length + (parts.length > 0 ? 1 : 0); // encoded: ASCII only
    if (parts.length >= BAGGAGE_MAX_MEMBERS || bytes + size > BAGGAGE_MAX_BYTES) continue;
    parts.push(member);
    bytes += size;
  }
  return parts.join(',');
}
