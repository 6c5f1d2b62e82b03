/**
 * The carrier: a declaration of which vars travel and how, with `inject` on the
 * sending side and `run` on the receiving side. Nothing undeclared is ever read
 * into a record, and a record is restored whole or not at all.
 *
 * @module
 */
import { Context, type ContextVar, InvalidArgTypeError, requestId } from '@contextvars/core';
import { type Codec, type CodecFor, isBuiltIn, resolveCodec } from './codecs.js';
import { CarryEncodeError, type CarryError, CarryRecordError } from './errors.js';
import { isPoisonedKey, type JsonValue, jsonProblem } from './json.js';
import {
  byteLength,
  type CarryRecord,
  checkRecord,
  MAX_RECORD_BYTES,
  MAX_RECORD_VARS,
} from './record.js';
import type { TraceHeaders, TraceHook } from './trace.js';

/** One declared var: the var, and the codec its values travel in. */
export interface VarSpec<T> {
  var: ContextVar<T>;
  codec: CodecFor<T>;
}

/** Options of {@link defineCarrier}. */
export interface CarrierOptions<V extends Record<string, unknown>> {
  /**
   * The vars that travel, by the name they have in the record (stable across
   * deploys: a renamed var stops arriving). Nothing else ever leaves the process.
   */
  vars: { [K in keyof V]: VarSpec<V[K]> };
  /** Carry the request id (`requestId` of `@contextvars/core`) too. Default `true`. */
  requestId?: boolean;
  /** Carry the trace context; `traceCarrier()` of `@contextvars/otel-bridge` is one. */
  trace?: TraceHook;
  /**
   * Called with every refused record (the work still runs, with nothing restored)
   * and every value `inject` had to leave out. The default emits a process warning.
   * To refuse the work instead, throw: `run` then throws that error without calling
   * its function.
   */
  onInvalid?: (error: CarryError) => void;
}

/** Work and the record of the context it was handed off in: what `wrap` makes. */
export interface Carried<T> {
  carry: CarryRecord;
  payload: T;
}

interface Entry {
  readonly name: string;
  readonly var: ContextVar<unknown>;
  readonly codec: Codec<unknown>;
  /** A codec of the app's: its output is checked for JSON safety. */
  readonly custom: boolean;
  /** `"name":`, the bytes it adds to a record before its value. */
  readonly keyBytes: number;
}

const MISSING = Symbol('missing');

/** The size of `{"v":1,"vars":{}}`, the emptiest record. */
const EMPTY_RECORD_BYTES = byteLength(JSON.stringify({ v: 1, vars: {} }));

function warn(error: CarryError): void {
  process.emitWarning(error.message, { type: error.name, code: error.code });
}

/**
 * A declaration of which vars travel with work handed to another thread or
 * process, made by {@link defineCarrier}. Both sides declare the same carrier
 * (typically one shared module).
 */
export class Carrier {
  readonly #entries: readonly Entry[];
  readonly #byName: ReadonlyMap<string, Entry>;
  readonly #requestId: boolean;
  readonly #trace: TraceHook | undefined;
  readonly #onInvalid: (error: CarryError) => void;

  /** @internal Use {@link defineCarrier}. */
  constructor(options: CarrierOptions<Record<string, unknown>>) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgTypeError('defineCarrier() needs an options object');
    }
    const { vars, trace, onInvalid } = options;
    if (vars === null || typeof vars !== 'object') {
      throw new InvalidArgTypeError(
        'defineCarrier(): `vars` must be an object of name → { var, codec }',
      );
    }
    const entries: Entry[] = [];
    for (const [name, spec] of Object.entries(vars)) {
      if (name === '' || isPoisonedKey(name)) {
        throw new InvalidArgTypeError(`defineCarrier(): "${name}" cannot be a var name`);
      }
      const v = (spec as VarSpec<unknown> | null)?.var;
      if (v === null || typeof v !== 'object' || typeof v.get !== 'function') {
        throw new InvalidArgTypeError(
          `defineCarrier(): "${name}" must have a ContextVar as \`var\``,
        );
      }
      const codec = resolveCodec(spec.codec);
      if (codec === undefined) {
        throw new InvalidArgTypeError(
          `defineCarrier(): "${name}" needs a codec: 'string', 'number', 'boolean', 'json' or { encode, decode }`,
        );
      }
      entries.push({
        name,
        var: v,
        codec,
        custom: !isBuiltIn(codec),
        keyBytes: byteLength(JSON.stringify(name)) + 1,
      });
    }
    if (entries.length > MAX_RECORD_VARS) {
      throw new InvalidArgTypeError(`defineCarrier(): at most ${MAX_RECORD_VARS} vars travel`);
    }
    if (
      trace !== undefined &&
      (typeof trace?.inject !== 'function' || typeof trace.run !== 'function')
    ) {
      throw new InvalidArgTypeError('defineCarrier(): `trace` must have inject() and run()');
    }
    if (onInvalid !== undefined && typeof onInvalid !== 'function') {
      throw new InvalidArgTypeError('defineCarrier(): `onInvalid` must be a function');
    }
    this.#entries = entries;
    this.#byName = new Map(entries.map((e) => [e.name, e]));
    this.#requestId = options.requestId ?? true;
    this.#trace = trace;
    this.#onInvalid = onInvalid ?? warn;
  }

  /** The trace hook this carrier was declared with, for queue integrations. */
  get traceHook(): TraceHook | undefined {
    return this.#trace;
  }

  /**
   * A record of the current values of the declared vars (those that have one),
   * the request id and the trace context. `trace` replaces the trace context the
   * hook would read (a queue's producer span). Never throws: a value that cannot
   * be encoded, or that would push the record over 8,192 bytes, is left out and
   * reported to `onInvalid`.
   */
  inject(trace?: TraceHeaders): CarryRecord {
    const record: CarryRecord = { v: 1, vars: {} };
    let bytes = EMPTY_RECORD_BYTES;
    const headers = trace ?? this.#injectTrace();
    if (headers !== undefined) {
      record.trace = headers;
      bytes += byteLength(JSON.stringify(headers)) + ',"trace":'.length;
    }
    if (this.#requestId) {
      const id = requestId.get(undefined);
      if (id !== undefined) {
        record.requestId = id;
        bytes += byteLength(JSON.stringify(id)) + ',"requestId":'.length;
      }
    }
    let first = true;
    for (const entry of this.#entries) {
      const value = entry.var.get(MISSING);
      if (value === MISSING) continue;
      let encoded: JsonValue;
      let text: string;
      try {
        encoded = entry.codec.encode(value);
        // A custom codec may return anything; the record must stay JSON-safe.
        const problem = entry.custom ? jsonProblem(encoded, MAX_RECORD_BYTES) : undefined;
        if (problem !== undefined)
          throw new TypeError(`encoded value is not JSON-safe: ${problem}`);
        text = JSON.stringify(encoded);
      } catch (cause) {
        this.#onInvalid(
          new CarryEncodeError(entry.name, `"${entry.name}" could not be encoded; left out`, {
            cause,
          }),
        );
        continue;
      }
      const added = entry.keyBytes + byteLength(text) + (first ? 0 : 1);
      if (bytes + added > MAX_RECORD_BYTES) {
        this.#onInvalid(
          new CarryEncodeError(
            entry.name,
            `"${entry.name}" would make the record over ${MAX_RECORD_BYTES} bytes; left out`,
          ),
        );
        continue;
      }
      bytes += added;
      first = false;
      record.vars[entry.name] = encoded;
    }
    return record;
  }

  /**
   * A fresh Context holding the values of `record` (a record or its JSON text):
   * the declared vars it has, and the request id. Vars it has that this carrier
   * does not declare are ignored (a newer sender). Throws {@link CarryRecordError}
   * and restores nothing when the record is malformed, oversized, of another
   * version, or holds a value its codec refuses. The trace context is not in the
   * Context: {@link run} continues it.
   */
  restore(record: unknown): Context {
    return this.#restore(record).ctx;
  }

  #restore(record: unknown): { ctx: Context; trace: TraceHeaders | undefined } {
    const checked = checkRecord(record);
    const decoded: Array<[ContextVar<unknown>, unknown]> = [];
    for (const [name, encoded] of checked.vars) {
      const entry = this.#byName.get(name);
      if (entry === undefined) continue;
      try {
        decoded.push([entry.var, entry.codec.decode(encoded)]);
      } catch (cause) {
        throw new CarryRecordError('tampered', `record value of "${name}" does not decode`, {
          key: name,
          cause,
        });
      }
    }
    const ctx = new Context();
    ctx.run(() => {
      for (const [v, value] of decoded) v.set(value);
      if (this.#requestId && checked.requestId !== undefined) requestId.set(checked.requestId);
    });
    return { ctx, trace: checked.trace };
  }

  /**
   * Runs `fn` in a fresh Context restored from `record`, with the record's trace
   * context as the parent of the spans it starts. A record that cannot be restored
   * is reported to `onInvalid` and `fn` runs in an empty Context with no trace:
   * bad input never stops the work (unless `onInvalid` throws).
   */
  run<R>(record: unknown, fn: () => R): R {
    const { ctx, trace } = this.restoreOrReport(record);
    const hook = this.#trace;
    return hook === undefined ? ctx.run(fn) : ctx.run(() => hook.run(trace, fn));
  }

  /**
   * {@link restore} that reports a refused record to `onInvalid` and returns an
   * empty Context instead of throwing; with the record's trace context.
   *
   * @internal For the queue integrations.
   */
  restoreOrReport(record: unknown): { ctx: Context; trace: TraceHeaders | undefined } {
    try {
      return this.#restore(record);
    } catch (error) {
      if (!(error instanceof CarryRecordError)) throw error;
      this.#onInvalid(error);
      return { ctx: new Context(), trace: undefined };
    }
  }

  /** `payload` with the record of the current context, for `postMessage` or `workerData`. */
  wrap<T>(payload: T): Carried<T> {
    return { carry: this.inject(), payload };
  }

  /**
   * Runs `handler(payload)` in the context `wrap` captured (as {@link run} does).
   * A message that is not a {@link Carried} envelope is reported and handled as
   * its own payload, in an empty Context.
   */
  unwrap<T, R>(message: Carried<T>, handler: (payload: T) => R): R {
    const envelope =
      message !== null &&
      typeof message === 'object' &&
      Object.hasOwn(message, 'carry') &&
      Object.hasOwn(message, 'payload');
    if (!envelope) return this.run(undefined, () => handler(message as unknown as T));
    return this.run(message.carry, () => handler(message.payload));
  }

  /**
   * A message listener that runs `handler` on each message's payload in the
   * context it was sent from: `parentPort.on('message', carrier.handler(fn))`.
   */
  handler<T, R>(handler: (payload: T) => R): (message: Carried<T>) => R {
    return (message) => this.unwrap(message, handler);
  }

  #injectTrace(): TraceHeaders | undefined {
    if (this.#trace === undefined) return undefined;
    try {
      return this.#trace.inject();
    } catch {
      // A hook that throws must not stop the work from being handed off.
      return undefined;
    }
  }
}

/**
 * Declares which vars travel with work handed to worker threads and job queues,
 * and how each is encoded.
 *
 * @example
 * ```ts
 * import { ContextVar } from '@contextvars/core';
 * import { defineCarrier } from '@contextvars/carry';
 *
 * const tenant = new ContextVar<string>('tenant');
 * const carrier = defineCarrier({ vars: { tenant: { var: tenant, codec: 'string' } } });
 * const record = carrier.inject();                 // in the request
 * carrier.run(record, () => tenant.get('none'));   // where the work runs
 * ```
 */
export function defineCarrier<V extends Record<string, unknown>>(
  options: CarrierOptions<V>,
): Carrier {
  return new Carrier(options as CarrierOptions<Record<string, unknown>>);
}
