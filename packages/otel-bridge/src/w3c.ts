/**
 * W3C Trace Context (`traceparent`) and W3C Baggage (`baggage`) parsing and
 * formatting, strict on input: anything malformed is ignored, never thrown,
 * nothing unbounded is kept, and every parser is one linear pass (no regex ever
 * sees more than one bounded field). `tracestate` lives in `trace-state.ts`.
 *
 * @module
 */
import { HTTP_TOKEN } from '@contextvars/http';
import { diag } from '@opentelemetry/api';
import { KNOWN_FLAGS } from './trace-flags.js';

/** A parsed `traceparent`. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_TRACEPARENT = 512;

const isOws = (code: number) => code === 0x20 || code === 0x09;

/** `text[start, end)` without surrounding spaces and tabs, by index (a trailing-space regex is quadratic). */
function trimOws(text: string, start = 0, end = text.length): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * Parses a `traceparent` header. Rejects: anything but one string (a repeated
 * header is invalid; an array of exactly one string is that string), version
 * `ff`, version `00` with extra fields, a higher version not followed by `-` or
 * the end after the flags, upper-case hex, all-zero trace or span id, wrong
 * lengths. Flags other than `sampled` and `random` are read as zero.
 */
export function parseTraceParent(header: unknown): TraceParent | undefined {
  if (Array.isArray(header) && header.length === 1) header = header[0];
  if (typeof header !== 'string' || header.length > MAX_TRACEPARENT) return undefined;
  const m = TRACEPARENT.exec(trimOws(header));
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
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & KNOWN_FLAGS };
}

/**
 * Formats a `traceparent` header (version 00). Flags Trace Context does not define
 * are written as zero, as it asks.
 */
export function formatTraceParent(tp: TraceParent): string {
  const flags = (tp.traceFlags & KNOWN_FLAGS).toString(16).padStart(2, '0');
  return `00-${tp.traceId}-${tp.spanId}-${flags}`;
}

/** W3C Baggage limit: list-members of the whole `baggage` (all header fields combined). */
export const BAGGAGE_MAX_MEMBERS = 64;
/** W3C Baggage limit: bytes of the whole `baggage` (all header fields combined). */
export const BAGGAGE_MAX_BYTES = 8192;

const BAGGAGE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // in u-mode only unpaired halves match

/** A `baggage` list-member's value and its properties (`;`-joined, as sent, not decoded). */
export interface BaggageMember {
  value: string;
  properties?: string;
}

/** Whether `byte` may be sent as is in a baggage value: a baggage-octet, but `%`. */
function isPlainOctet(byte: number): boolean {
  return (
    byte === 0x21 ||
    (byte >= 0x23 && byte <= 0x2b && byte !== 0x25) ||
    (byte >= 0x2d && byte <= 0x3a) ||
    (byte >= 0x3c && byte <= 0x5b) ||
    (byte >= 0x5d && byte <= 0x7e)
  );
}

const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8'); // not fatal: bad sequences become U+FFFD

/**
 * Percent-encodes what the Baggage grammar requires and nothing more, so a value
 * read from a header is never longer when written back (and a header within the
 * limits stays within them). A lone surrogate cannot be UTF-8: it is written as
 * U+FFFD, the character a decoder gives for bytes that are not UTF-8.
 */
function encodeBaggageValue(value: string): string {
  if (BAGGAGE_OCTETS.test(value) && !value.includes('%')) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += isPlainOctet(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Percent-decodes then reads the bytes as UTF-8, replacing bytes that are not
 * UTF-8 with U+FFFD, as Baggage asks. A `%` not followed by two hex digits is
 * kept as is (the WHATWG percent-decode), so no value is lost to a stray `%`.
 */
function decodeBaggageValue(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  const bytes = new Uint8Array(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length; i++) {
    const code = encoded.charCodeAt(i);
    if (code === 0x25 && i + 2 < encoded.length) {
      const hi = hexValue(encoded.charCodeAt(i + 1));
      const lo = hexValue(encoded.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    bytes[n++] = code;
  }
  return utf8.decode(bytes.subarray(0, n));
}

/** Normalized properties (`k=v`, `k`; OWS removed), or `undefined` when one is malformed. */
function parseProperties(text: string): string | undefined {
  const out: string[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const property = trimOws(text, start, end);
    start = end + 1;
    if (property.length === 0) continue; // `k=v;` or `;;`: nothing lost by skipping it
    const eq = property.indexOf('=');
    const key = trimOws(eq === -1 ? property : property.slice(0, eq));
    if (!HTTP_TOKEN.test(key)) return undefined;
    if (eq === -1) {
      out.push(key);
      continue;
    }
    const value = trimOws(property, eq + 1);
    if (!BAGGAGE_OCTETS.test(value)) return undefined;
    out.push(`${key}=${value}`);
  }
  return out.join(';');
}

/** One list-member (already trimmed), or `undefined` when it is malformed. */
function parseMember(member: string): [string, BaggageMember] | undefined {
  const semi = member.indexOf(';');
  const keyValue = semi === -1 ? member : member.slice(0, semi);
  const eq = keyValue.indexOf('=');
  if (eq <= 0) return undefined;
  const key = trimOws(keyValue, 0, eq);
  const encoded = trimOws(keyValue, eq + 1);
  if (!HTTP_TOKEN.test(key) || !BAGGAGE_OCTETS.test(encoded)) return undefined;
  const parsed: BaggageMember = { value: decodeBaggageValue(encoded) };
  if (semi !== -1) {
    const properties = parseProperties(member.slice(semi + 1));
    if (properties === undefined) return undefined;
    parsed.properties = properties;
  }
  return [key, parsed];
}

/** The header fields as one value: an array (repeated fields) is combined with `,`. */
function combine(header: unknown): string | undefined {
  if (typeof header === 'string') return header;
  if (!Array.isArray(header)) return undefined;
  return header.filter((h): h is string => typeof h === 'string').join(',');
}

/**
 * Parses `baggage` header(s) into members, values decoded and properties kept
 * (undecoded). Repeated header fields are combined with `,`. Malformed members
 * (bad key, characters outside the grammar, a malformed property) are skipped;
 * the first 64 valid members within 8192 bytes are read, each whole or not at
 * all; a later duplicate key wins.
 */
export function parseBaggageMembers(header: unknown): Map<string, BaggageMember> {
  const entries = new Map<string, BaggageMember>();
  const text = combine(header);
  if (text === undefined || text.length === 0) return entries;
  let bytes = 0;
  let members = 0;
  let start = 0;
  while (start <= text.length && members < BAGGAGE_MAX_MEMBERS) {
    let end = text.indexOf(',', start);
    if (end === -1) end = text.length;
    const member = trimOws(text, start, end);
    start = end + 1;
    // Neither grammar check nor decode runs on a member that could never fit.
    if (member.length === 0 || member.length > BAGGAGE_MAX_BYTES) continue;
    const size = member.length + (members > 0 ? 1 : 0); // the grammar is ASCII: chars are bytes
    if (bytes + size > BAGGAGE_MAX_BYTES) continue;
    const parsed = parseMember(member);
    if (parsed === undefined) continue;
    entries.set(parsed[0], parsed[1]);
    bytes += size;
    members++;
  }
  return entries;
}

/**
 * Parses `baggage` header(s) into key → decoded value, as
 * the internal `parseBaggageMembers` reads them (properties left out). Values whose
 * percent-encoded bytes are not UTF-8 decode with U+FFFD in their place.
 */
export function parseBaggage(header: unknown): Map<string, string> {
  const values = new Map<string, string>();
  for (const [key, member] of parseBaggageMembers(header)) values.set(key, member.value);
  return values;
}

/**
 * Formats entries as a `baggage` header value. Values are percent-encoded where
 * the grammar requires; properties are written as given when they match the
 * grammar. Members that would break the limits (64 members, 8192 bytes) are
 * dropped whole, never cut; so are entries whose key is not a token or whose
 * properties are malformed. A value with a lone UTF-16 surrogate is sent with
 * U+FFFD in its place. Never throws: what cannot be sent is reported through
 * OpenTelemetry's `diag.warn`. Returns `''` when nothing fits.
 */
export function formatBaggage(
  entries: Iterable<readonly [string, string | BaggageMember]>,
): string {
  const parts: string[] = [];
  let bytes = 0;
  for (const [key, entry] of entries) {
    const member = formatMember(key, entry);
    if (member === undefined) continue;
    const size = member.length + (parts.length > 0 ? 1 : 0); // encoded: ASCII only
    if (parts.length >= BAGGAGE_MAX_MEMBERS || bytes + size > BAGGAGE_MAX_BYTES) {
      diag.warn(`contextvars: baggage entry "${key}" exceeds the W3C limits; not sent`);
      continue;
    }
    parts.push(member);
    bytes += size;
  }
  return parts.join(',');
}

function formatMember(key: string, entry: string | BaggageMember): string | undefined {
  if (typeof key !== 'string' || !HTTP_TOKEN.test(key)) {
    diag.warn(`contextvars: baggage key ${safeJson(key)} is not a token; not sent`);
    return undefined;
  }
  const value = typeof entry === 'string' ? entry : entry?.value;
  if (typeof value !== 'string') return undefined;
  if (LONE_SURROGATE.test(value)) {
    diag.warn(`contextvars: baggage "${key}" holds a lone UTF-16 surrogate; sent as U+FFFD`);
  }
  let member = `${key}=${encodeBaggageValue(value)}`;
  const properties = typeof entry === 'string' ? undefined : entry.properties;
  if (properties !== undefined && properties !== '') {
    const normalized = typeof properties === 'string' ? parseProperties(properties) : undefined;
    if (normalized === undefined) {
      diag.warn(`contextvars: baggage "${key}" has malformed properties; not sent`);
      return undefined;
    }
    member += `;${normalized}`;
  }
  return member;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '(unprintable)';
  }
}
