/**
 * pino log correlation: a `mixin` that adds the request id, trace context and
 * chosen vars to every line, and a per-request child logger reachable anywhere.
 *
 * @module
 */
import { ContextVar, requestId } from '@contextvars/core';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { activeOtelContext } from './propagation.js';

const MISSING = Symbol('missing');

/** Options of {@link pinoMixin}. Field names default to `@opentelemetry/instrumentation-pino`'s. */
export interface PinoMixinOptions {
  /** Extra fields: log field name → var. Unset vars are left out. */
  vars?: Record<string, ContextVar<any>>;
  /** Field of the request id; `false` to leave it out. Default `'request_id'`. */
  requestIdKey?: string | false;
  /** Default `'trace_id'`. */
  traceIdKey?: string;
  /** Default `'span_id'`. */
  spanIdKey?: string;
  /** Default `'trace_flags'` (two hex digits, as instrumentation-pino writes them). */
  traceFlagsKey?: string;
}

/**
 * A pino `mixin`: `pino({ mixin: pinoMixin() })`. Every line written in a request's
 * context, from any module and any logger, gets `request_id`, `trace_id`,
 * `span_id`, `trace_flags` and the chosen vars; outside a request or span nothing
 * is added.
 */
export function pinoMixin(options: PinoMixinOptions = {}): () => Record<string, unknown> {
  const requestIdKey = options.requestIdKey === undefined ? 'request_id' : options.requestIdKey;
  const traceIdKey = options.traceIdKey ?? 'trace_id';
  const spanIdKey = options.spanIdKey ?? 'span_id';
  const traceFlagsKey = options.traceFlagsKey ?? 'trace_flags';
  const vars = Object.entries(options.vars ?? {});
  return function contextvarsMixin(): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    if (requestIdKey !== false) {
      const id = requestId.get(MISSING);
      if (id !== MISSING) out = { [requestIdKey]: id };
    }
    const spanContext = trace.getSpanContext(activeOtelContext());
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      out ??= {};
      out[traceIdKey] = spanContext.traceId;
      out[spanIdKey] = spanContext.spanId;
      out[traceFlagsKey] = `0${spanContext.traceFlags.toString(16)}`.slice(-2);
    }
    for (const [key, v] of vars) {
      const value = v.get(MISSING);
      if (value === MISSING) continue;
      out ??= {};
      out[key] = value;
    }
    // A fresh object every time: pino's default merge strategy writes into it.
    return out ?? {};
  };
}

/** A pino log method. */
export type LogFn = (...args: any[]) => void;

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
    const current = super.get(MISSING);
    if (current !== MISSING) return current;
    if (this.base !== undefined) {
      const id = requestId.get(MISSING);
      if (id === MISSING) return this.base;
      const child = this.base.child({ request_id: id }) as L;
      this.set(child);
      return child;
    }
    return args.length > 0 ? super.get(args[0]) : super.get();
  }
}

/** The process-wide request logger var; see {@link RequestLoggerVar}. */
export const requestLogger: RequestLoggerVar = new RequestLoggerVar('requestLogger');
