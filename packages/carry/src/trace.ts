/**
 * The trace-context side of a carrier, as an interface: the carrier itself knows no
 * tracing library. `@contextvars/otel-bridge` implements it for OpenTelemetry
 * (`traceCarrier()`); anything else that speaks W3C Trace Context can too.
 *
 * @module
 */

/** A trace context as the W3C Trace Context headers carry it. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/** The kinds of span a carrier starts, as OpenTelemetry names them. */
export type CarriedSpanKind = 'internal' | 'producer' | 'consumer';

/** How to start a span for a hand-off (see {@link TraceHook.startSpan}). */
export interface CarriedSpanOptions {
  kind: CarriedSpanKind;
  /** The parent; when absent, the trace context active where the span starts. */
  parent?: TraceHeaders;
  /** Span contexts the span links to (the creation context of a message, for one). */
  links?: readonly TraceHeaders[];
}

/** A span started by a {@link TraceHook}: what a carrier needs of it, nothing more. */
export interface CarriedSpan {
  /** This span's context as W3C headers, to send with the work; `undefined` if it has none. */
  headers(): TraceHeaders | undefined;
  /** Runs `fn` with this span as the active one (the parent of the spans `fn` starts). */
  run<R>(fn: () => R): R;
  setAttributes(attributes: Record<string, unknown>): void;
  addEvent(name: string, attributes?: Record<string, unknown>): void;
  recordException(exception: unknown): void;
  end(): void;
}

/**
 * Trace propagation for a carrier: read the current trace context when work is
 * handed off, and continue it where the work runs. Optionally, start spans for the
 * hand-off itself (the producer and consumer spans of a job queue).
 */
export interface TraceHook {
  /** The current trace context, or `undefined` when no valid one is active. Never throws. */
  inject(): TraceHeaders | undefined;
  /**
   * Runs `fn` with `headers` as the remote parent of the spans it starts; with
   * `undefined`, runs `fn` detached from whatever trace context is active (the
   * work carries no trace, so it starts its own).
   */
  run<R>(headers: TraceHeaders | undefined, fn: () => R): R;
  /** Starts a span for a hand-off; without it, queue integrations start no spans. */
  startSpan?(name: string, options: CarriedSpanOptions): CarriedSpan;
}

/** A `traceparent` as this format version writes it: version 00's 55 lowercase-hex characters. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** W3C asks vendors to propagate at least 512 characters of `tracestate`; we carry up to that. */
export const MAX_TRACESTATE = 512;

/** Whether `value` is trace headers a record may hold (the hook parses them fully). */
export function isTraceHeaders(value: unknown): value is TraceHeaders {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const { traceparent, tracestate, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return false;
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return false;
  return (
    tracestate === undefined ||
    (typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE)
  );
}
