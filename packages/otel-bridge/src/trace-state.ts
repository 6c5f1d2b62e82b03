/**
 * W3C `tracestate`: parsing to the letter of Trace Context Level 2 and an
 * implementation of OpenTelemetry's `TraceState` interface that keeps the
 * members' order, puts new and updated keys first, and truncates by whole
 * entries, so that whatever it holds is exactly what it writes out.
 *
 * @module
 */
import { diag, type TraceState } from '@opentelemetry/api';

/** Most list-members a `tracestate` may carry; a header with more is discarded whole. */
export const TRACESTATE_MAX_MEMBERS = 32;

/**
 * Longest `tracestate` we keep and propagate, in characters, commas included.
 * The spec asks for at least 512; keeping no more than that is what keeps the
 * header affordable for every hop after us, so longer states are truncated by
 * whole entries rather than passed on.
 */
export const TRACESTATE_MAX_LENGTH = 512;

/**
 * Entries longer than this go first when a state must be truncated (the spec's
 * own threshold).
 */
export const TRACESTATE_LARGE_ENTRY = 128;

// key = ( lcalpha / DIGIT ) 0*255 keychar, where keychar also allows "@" (Level 2).
const KEY = /^[a-z0-9][_0-9a-z\-*/@]{0,255}$/;
// value = 0*255 chr nblk-chr: printable ASCII but "," and "=", not ending in a space.
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
// A key, "=", a value: anything longer cannot be a member, so no regex sees it.
const MAX_MEMBER = 256 + 1 + 256;

type Entry = readonly [key: string, value: string];

/** Whether `key` is a `tracestate` key of the Level 2 grammar (`@` allowed anywhere but first). */
export function isTraceStateKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= 256 && KEY.test(key);
}

/** Whether `value` is a `tracestate` value (printable ASCII but `,` `=`, no trailing space). */
export function isTraceStateValue(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 256 && VALUE.test(value);
}

const isOws = (code: number) => code === 0x20 || code === 0x09;

/** The list-member between `start` and `end` without its surrounding OWS, by index (linear). */
function trimOws(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function entryLength([key, value]: Entry): number {
  return key.length + 1 + value.length;
}

/**
 * Drops whole entries until the serialized state fits {@link TRACESTATE_MAX_LENGTH}:
 * entries over {@link TRACESTATE_LARGE_ENTRY} characters first (rightmost first),
 * then entries from the end, as Trace Context asks. Only as many as needed go.
 */
function truncate(entries: Entry[]): Entry[] {
  let length = entries.reduce((sum, e) => sum + entryLength(e), 0) + entries.length - 1;
  if (entries.length === 0 || length <= TRACESTATE_MAX_LENGTH) return entries;
  const kept = entries.slice();
  for (let i = kept.length - 1; i >= 0 && length > TRACESTATE_MAX_LENGTH; i--) {
    const size = entryLength(kept[i]!);
    if (size > TRACESTATE_LARGE_ENTRY) {
      kept.splice(i, 1);
      length -= size + 1;
    }
  }
  while (kept.length > 0 && length > TRACESTATE_MAX_LENGTH) {
    length -= entryLength(kept.pop()!) + 1;
  }
  return kept;
}

/**
 * An immutable W3C `tracestate`, usable wherever OpenTelemetry takes a
 * `TraceState` (a span context's `traceState`, a sampler's result). Unlike the
 * api's `createTraceState`, it accepts the Level 2 key grammar, keeps members in
 * their order, and truncates an oversized state by whole entries instead of
 * dropping it.
 */
export class W3CTraceState implements TraceState {
  private readonly entries: readonly Entry[];

  /** Entries left to right, already valid, unique and within the limits. */
  private constructor(entries: readonly Entry[]) {
    this.entries = entries;
  }

  /** An empty state, or one of the given `[key, value]` pairs (left to right; invalid pairs skipped). */
  static of(pairs: Iterable<readonly [string, string]> = []): W3CTraceState {
    const entries: Entry[] = [];
    const seen = new Set<string>();
    for (const [key, value] of pairs) {
      if (!isTraceStateKey(key) || !isTraceStateValue(value) || seen.has(key)) continue;
      seen.add(key);
      entries.push([key, value]);
      if (entries.length === TRACESTATE_MAX_MEMBERS) break;
    }
    return new W3CTraceState(truncate(entries));
  }

  /**
   * Sets `key` to `value`, moving it to the front (the spec's place for a new or
   * updated entry); the rightmost member goes when that makes 33. An invalid key
   * or value leaves the state as it is and is reported through `diag.warn`.
   */
  set(key: string, value: string): W3CTraceState {
    if (!isTraceStateKey(key) || !isTraceStateValue(value)) {
      diag.warn(`contextvars: tracestate entry ${JSON.stringify(key)} is invalid; not set`);
      return this;
    }
    const rest = this.entries.filter(([k]) => k !== key);
    const entries: Entry[] = [[key, value], ...rest.slice(0, TRACESTATE_MAX_MEMBERS - 1)];
    return new W3CTraceState(truncate(entries));
  }

  /** Removes `key`, keeping the others in their order. */
  unset(key: string): W3CTraceState {
    const entries = this.entries.filter(([k]) => k !== key);
    return entries.length === this.entries.length ? this : new W3CTraceState(entries);
  }

  /** The value of `key`, if present. */
  get(key: string): string | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  /** The header value: `key=value` members, left to right, joined by `,`. */
  serialize(): string {
    return this.entries.map(([k, v]) => `${k}=${v}`).join(',');
  }

  /** Every `[key, value]`, left to right. */
  toArray(): Array<[string, string]> {
    return this.entries.map(([k, v]) => [k, v]);
  }
}

/**
 * Parses `tracestate` header(s). Repeated header fields (an array, as
 * `headersDistinct`, undici and custom carriers give them) are combined with `,`
 * as RFC 9110 asks. Empty and whitespace-only members are allowed and ignored.
 * Returns `undefined`, discarding the whole header, when any member is malformed
 * or there are more than 32 members; a later duplicate of a key is dropped (the
 * leftmost is the most recent). An oversized state is truncated by whole entries.
 */
export function parseTraceState(header: unknown): W3CTraceState | undefined {
  let text: string;
  if (typeof header === 'string') text = header;
  else if (Array.isArray(header) && header.every((h) => typeof h === 'string')) {
    text = header.join(',');
  } else return undefined;
  const entries: Entry[] = [];
  const seen = new Set<string>();
  let members = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = text.length;
    const member = trimOws(text, start, end);
    start = end + 1;
    if (member.length === 0) continue;
    // Duplicates count too: the limit is on list-members, not distinct keys.
    if (++members > TRACESTATE_MAX_MEMBERS || member.length > MAX_MEMBER) return undefined;
    const eq = member.indexOf('=');
    if (eq <= 0) return undefined;
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!isTraceStateKey(key) || !isTraceStateValue(value)) return undefined;
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push([key, value]);
  }
  return W3CTraceState.of(entries);
}

/**
 * A `TraceState` from anywhere (ours, the SDK's, a sampler's), as a header value
 * we can send: ours serialize as they are; any other is re-read through
 * {@link parseTraceState}, so a foreign implementation can neither break the
 * header nor throw out of an inject. Returns `undefined` when there is nothing to send.
 */
export function serializeTraceState(state: TraceState | undefined): string | undefined {
  if (state === undefined || state === null) return undefined;
  let text: string;
  try {
    if (state instanceof W3CTraceState) text = state.serialize();
    else text = parseTraceState(state.serialize())?.serialize() ?? '';
  } catch (err) {
    diag.warn('contextvars: tracestate could not be serialized; not sent', err);
    return undefined;
  }
  return text === '' ? undefined : text;
}
