/**
 * pino log correlation: a `mixin` that adds the request id, trace context and
 * chosen vars to every line, and a per-request child logger reachable anywhere.
 *
 * @module
 */
import { ContextVar, requestId, Token } from '@contextvars/core';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { activeOtelContext } from './propagation.js';

/** Options of {@link pinoMixin}. Field names default to `@opentelemetry/instrumentation-pino`'s. */
export interface PinoMixinOptions {
  /** Extra fields: log field name → var. Unset vars are left out. */
  vars?: Record<string, ContextVar<unknown>>;
  /** Field of the request id; `false` to leave it out. Default `'request_id'`. */
  requestIdKey?: string | false;
  /** Default `'trace_id'`. */
  traceIdKey?: string;
  /** Default `'span_id'`. */
  spanIdKey?: string;
  /** Default `'trace_flags'` (two hex digits, as instrumentation-pino writes them). */
  traceFlagsKey?: string;
}

/** The signature pino calls a `mixin` with (pino 8.x+ passes the logger third). */
export type PinoMixin = (
  mergeObject?: object,
  level?: number,
  logger?: object,
) => Record<string, unknown>;

/**
 * The keys a pino logger already writes on every line: its bindings (`child()`
 * arguments, `base`, after pino's `bindings` formatter) as pino serialized them.
 * The serialized string is kept to notice `setBindings`.
 */
interface BoundKeys {
  symbol: symbol;
  serialized: string;
  keys: ReadonlySet<string>;
}

const NO_KEYS: ReadonlySet<string> = new Set();
const NOT_PINO = { keys: NO_KEYS } as const;
const boundKeysCache = new WeakMap<object, BoundKeys | typeof NOT_PINO>();

/**
 * pino keeps a logger's serialized bindings under a private, unregistered symbol
 * (`Symbol('pino.chindings')`, one per copy of pino): found on the logger by its
 * description, then read as a plain property on every line, which is cheaper than
 * `logger.bindings()` (a JSON.parse per line).
 */
function findChindings(logger: object): symbol | undefined {
  for (const sym of Object.getOwnPropertySymbols(logger)) {
    if (sym.description === 'pino.chindings') return sym;
  }
  return undefined;
}

function parseKeys(serialized: string): ReadonlySet<string> {
  // `,"pid":1,"request_id":"x"`: a JSON object body after a comma, or empty.
  if (serialized.length <= 1) return NO_KEYS;
  try {
    return new Set(Object.keys(JSON.parse(`{${serialized.slice(1)}}`) as object));
  } catch {
    // A custom `bindings` formatter may write something else: nothing is skipped.
    return NO_KEYS;
  }
}

function boundKeys(logger: object): ReadonlySet<string> {
  const cached = boundKeysCache.get(logger);
  if (cached !== undefined) {
    if (!('symbol' in cached)) return cached.keys;
    const serialized = (logger as Record<symbol, unknown>)[cached.symbol];
    if (serialized === cached.serialized) return cached.keys;
  }
  const symbol = cached !== undefined && 'symbol' in cached ? cached.symbol : findChindings(logger);
  const serialized = symbol === undefined ? undefined : (logger as Record<symbol, unknown>)[symbol];
  if (symbol === undefined || typeof serialized !== 'string') {
    boundKeysCache.set(logger, NOT_PINO);
    return NO_KEYS;
  }
  const keys = parseKeys(serialized);
  boundKeysCache.set(logger, { symbol, serialized, keys });
  return keys;
}

/**
 * A pino `mixin`: `pino({ mixin: pinoMixin() })`. Every line written in a request's
 * context, from any module and any logger, gets `request_id`, `trace_id`,
 * `span_id`, `trace_flags` and the chosen vars; outside a request or span nothing
 * is added.
 *
 * A key the logger already binds is left out: pino writes bindings and the mixin's
 * object side by side, so a key in both would appear twice on the line (a child
 * logger bound with `request_id`, as {@link requestLogger}, Fastify's request logger
 * with `requestIdLogLabel: 'request_id'`, or pino-http's). The bound value is the
 * same request's, so nothing is lost.
 */
export function pinoMixin(options: PinoMixinOptions = {}): PinoMixin {
  const requestIdKey = options.requestIdKey === undefined ? 'request_id' : options.requestIdKey;
  const traceIdKey = options.traceIdKey ?? 'trace_id';
  const spanIdKey = options.spanIdKey ?? 'span_id';
  const traceFlagsKey = options.traceFlagsKey ?? 'trace_flags';
  const vars = Object.entries(options.vars ?? {});
  return function contextvarsMixin(
    _mergeObject?: object,
    _level?: number,
    logger?: object,
  ): Record<string, unknown> {
    const bound = logger === undefined || logger === null ? NO_KEYS : boundKeys(logger);
    const skip = bound.size > 0;
    let out: Record<string, unknown> | undefined;
    if (requestIdKey !== false && !(skip && bound.has(requestIdKey))) {
      const id = requestId.get(Token.MISSING);
      if (id !== Token.MISSING) out = { [requestIdKey]: id };
    }
    const spanContext = trace.getSpanContext(activeOtelContext());
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      out ??= {};
      if (!(skip && bound.has(traceIdKey))) out[traceIdKey] = spanContext.traceId;
      if (!(skip && bound.has(spanIdKey))) out[spanIdKey] = spanContext.spanId;
      if (!(skip && bound.has(traceFlagsKey)))
        out[traceFlagsKey] = `0${spanContext.traceFlags.toString(16)}`.slice(-2);
    }
    for (const [key, v] of vars) {
      if (skip && bound.has(key)) continue;
      const value = v.get(Token.MISSING);
      if (value === Token.MISSING) continue;
      out ??= {};
      out[key] = value;
    }
    // A fresh object every time: pino's default merge strategy writes into it.
    return out ?? {};
  };
}

/** A pino log method. */
export type LogFn = (obj: unknown, msg?: string, ...args: unknown[]) => void;

/** What {@link requestLogger} needs of a logger: pino's `child` and level methods. */
export interface ChildLogger {
  child(bindings: Record<string, unknown>): ChildLogger;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/**
 * A ContextVar holding the request's child logger. Give it the base logger once
 * with `requestLogger.use(logger)`; then `requestLogger.get()` anywhere in a
 * request returns a child logger bound to the request id, created on first use
 * (requests that never log pay nothing) and kept for the rest of the request.
 * Outside a request it returns the base logger.
 */
export class RequestLoggerVar<L extends ChildLogger = ChildLogger> extends ContextVar<L> {
  private base: L | undefined;

  /** Sets the logger that request loggers are children of. Returns `this`. */
  use(base: L): this {
    this.base = base;
    return this;
  }

  override get(): L;
  override get<D>(fallback: D): L | D;
  override get(...args: unknown[]): unknown {
    const current = super.get(Token.MISSING);
    if (current !== Token.MISSING) return current;
    if (this.base !== undefined) {
      const id = requestId.get(Token.MISSING);
      if (id === Token.MISSING) return this.base;
      const child = this.base.child({ request_id: id }) as L;
      this.set(child);
      return child;
    }
    return args.length > 0 ? super.get(args[0]) : super.get();
  }
}

/** The process-wide request logger var; see {@link RequestLoggerVar}. */
export const requestLogger: RequestLoggerVar = new RequestLoggerVar('requestLogger');
