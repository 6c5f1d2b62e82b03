/**
 * The record: what crosses the process boundary. Small, versioned, JSON-safe:
 *
 * ```json
 * { "v": 1, "requestId": "req-7", "vars": { "tenant": "acme" },
 *   "trace": { "traceparent": "00-…-…-01", "tracestate": "vendor=x" } }
 * ```
 *
 * This module checks a record's shape and size; decoding the values is the
 * carrier's job, since only it knows the declaration.
 *
 * @module
 */
import { CarryRecordError } from './errors.js';
import { isPoisonedKey, type JsonValue, jsonProblem } from './json.js';
import { isTraceHeaders, type TraceHeaders } from './trace.js';

/** The format version this package writes and reads. */
export const RECORD_VERSION = 1;

/** The largest record, in bytes of its JSON text: W3C baggage's limit. */
export const MAX_RECORD_BYTES = 8192;

/** The most vars a record holds: W3C baggage's member limit. */
export const MAX_RECORD_VARS = 64;

/** Request ids as the adapters accept them from a header; anything else is forged. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** A record, as `inject()` makes it and `run()` reads it. */
export interface CarryRecord {
  /** Format version: {@link RECORD_VERSION}. */
  v: 1;
  /** The request id, when the carrier declares it and one is set. */
  requestId?: string;
  /** Declared name → encoded value, for every declared var that has a value. */
  vars: { [name: string]: JsonValue };
  /** The trace context, when the carrier has a trace hook and a trace is active. */
  trace?: TraceHeaders;
}

/** A record whose shape and size were checked; its values are not decoded yet. */
export interface CheckedRecord {
  readonly requestId: string | undefined;
  readonly vars: ReadonlyMap<string, JsonValue>;
  readonly trace: TraceHeaders | undefined;
}

const FIELDS = new Set(['v', 'vars', 'requestId', 'trace']);

/** The UTF-8 length of `text`. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function parseText(text: string): unknown {
  // Cheap before exact: a string this long is over the limit in any encoding.
  if (text.length > MAX_RECORD_BYTES || byteLength(text) > MAX_RECORD_BYTES) {
    throw new CarryRecordError('oversized', `record is over ${MAX_RECORD_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CarryRecordError('malformed', 'record is not JSON', { cause });
  }
}

function checkSize(value: Record<string, unknown>): void {
  // The walk gives up early on anything huge, so a hostile object is never serialized.
  const problem = jsonProblem(value, MAX_RECORD_BYTES);
  if (problem === 'too large') {
    throw new CarryRecordError('oversized', `record is over ${MAX_RECORD_BYTES} bytes`);
  }
  if (problem !== undefined) {
    const reason = problem.startsWith('the key') ? 'tampered' : 'malformed';
    throw new CarryRecordError(reason, `record is not JSON-safe: ${problem}`);
  }
  if (byteLength(JSON.stringify(value)) > MAX_RECORD_BYTES) {
    throw new CarryRecordError('oversized', `record is over ${MAX_RECORD_BYTES} bytes`);
  }
}

/**
 * Checks that `input` (a record, or its JSON text) is a record of this version
 * within the limits, and returns its parts. Throws {@link CarryRecordError}.
 */
export function checkRecord(input: unknown): CheckedRecord {
  const value = typeof input === 'string' ? parseText(input) : input;
  if (!isPlainObject(value)) throw new CarryRecordError('malformed', 'record is not an object');
  if (!Object.hasOwn(value, 'v')) throw new CarryRecordError('malformed', 'record has no version');
  if (value.v !== RECORD_VERSION) {
    throw new CarryRecordError(
      'version',
      `record version ${String(value.v).slice(0, 16)} is not ${RECORD_VERSION}`,
    );
  }
  if (typeof input !== 'string') checkSize(value);
  for (const key of Object.keys(value)) {
    if (!FIELDS.has(key)) {
      throw new CarryRecordError('tampered', `record has an unknown field "${key.slice(0, 64)}"`, {
        key,
      });
    }
  }
  const { requestId, vars, trace } = value;
  if (requestId !== undefined && (typeof requestId !== 'string' || !REQUEST_ID.test(requestId))) {
    throw new CarryRecordError('tampered', 'record has an invalid request id', {
      key: 'requestId',
    });
  }
  if (trace !== undefined && !isTraceHeaders(trace)) {
    throw new CarryRecordError('tampered', 'record has an invalid trace context', { key: 'trace' });
  }
  if (!isPlainObject(vars)) {
    throw new CarryRecordError('malformed', 'record has no vars object', { key: 'vars' });
  }
  const names = Object.keys(vars);
  if (names.length > MAX_RECORD_VARS) {
    throw new CarryRecordError('oversized', `record has over ${MAX_RECORD_VARS} vars`);
  }
  const checked = new Map<string, JsonValue>();
  for (const name of names) {
    if (isPoisonedKey(name)) {
      throw new CarryRecordError('tampered', `record has the var name "${name}"`, { key: name });
    }
    checked.set(name, vars[name] as JsonValue);
  }
  if (typeof input === 'string') {
    // Text input was measured as text; its values still need the JSON-safety walk
    // (poisoned keys nested in a json value).
    const problem = jsonProblem(vars, MAX_RECORD_BYTES);
    if (problem !== undefined) {
      throw new CarryRecordError('tampered', `record vars are not JSON-safe: ${problem}`);
    }
  }
  return {
    requestId: requestId as string | undefined,
    vars: checked,
    trace: trace as TraceHeaders | undefined,
  };
}
