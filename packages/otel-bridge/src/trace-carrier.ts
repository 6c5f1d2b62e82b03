/**
 * The trace context for work handed to other threads and processes: a trace hook
 * for `@contextvars/carry` (`defineCarrier({ trace: traceCarrier() })`). The bridge
 * does not depend on that package; the hook matches its `TraceHook` interface by
 * shape, so the carrier never needs `@opentelemetry/api` itself.
 *
 * @module
 */
import {
  context,
  isSpanContextValid,
  type Link,
  type Context as OtelContext,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { activeOtelContext } from './propagation.js';
import { outgoingTraceFlags, withIncomingTrace } from './trace-flags.js';
import { parseTraceState, serializeTraceState } from './trace-state.js';
import { formatTraceParent, parseTraceParent } from './w3c.js';

/** A trace context as the W3C headers carry it. */
export interface CarriedTraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/** A span for a hand-off, as a carrier drives it. */
export interface CarriedTraceSpan {
  headers(): CarriedTraceHeaders | undefined;
  run<R>(fn: () => R): R;
  setAttributes(attributes: Record<string, unknown>): void;
  addEvent(name: string, attributes?: Record<string, unknown>): void;
  recordException(exception: unknown): void;
  end(): void;
}

/** The trace hook {@link traceCarrier} returns (the `TraceHook` of `@contextvars/carry`). */
export interface TraceCarrier {
  inject(): CarriedTraceHeaders | undefined;
  run<R>(headers: CarriedTraceHeaders | undefined, fn: () => R): R;
  startSpan(
    name: string,
    options: {
      kind: 'internal' | 'producer' | 'consumer';
      parent?: CarriedTraceHeaders;
      links?: readonly CarriedTraceHeaders[];
    },
  ): CarriedTraceSpan;
}

/** Options of {@link traceCarrier}. */
export interface TraceCarrierOptions {
  /** The tracer of the hand-off spans; default: the global provider's `@contextvars/carry` tracer. */
  tracer?: Tracer;
}

const KINDS = {
  internal: SpanKind.INTERNAL,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
} as const;

function headersOf(ctx: OtelContext, spanContext: SpanContext | undefined) {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return undefined;
  const traceFlags = outgoingTraceFlags(ctx, spanContext);
  const headers: CarriedTraceHeaders = {
    traceparent: formatTraceParent({ ...spanContext, traceFlags }),
  };
  const state = serializeTraceState(spanContext.traceState);
  if (state !== undefined) headers.tracestate = state;
  return headers;
}

/** A context whose remote parent is `headers`; `undefined` when they do not parse. */
function remoteContext(headers: CarriedTraceHeaders): OtelContext | undefined {
  const parent = parseTraceParent(headers?.traceparent);
  if (parent === undefined) return undefined;
  const ctx = withIncomingTrace(ROOT_CONTEXT, parent);
  return trace.setSpanContext(ctx, {
    ...parent,
    isRemote: true,
    traceState: parseTraceState(headers.tracestate),
  });
}

function carriedSpan(span: Span, parent: OtelContext): CarriedTraceSpan {
  const active = trace.setSpan(parent, span);
  return {
    headers: () => headersOf(active, span.spanContext()),
    run: (fn) => context.with(active, fn),
    setAttributes(attributes) {
      // The SDK drops values that are not attribute values; only undefined is ours to skip.
      for (const [key, value] of Object.entries(attributes)) {
        if (value !== undefined) span.setAttribute(key, value as never);
      }
    },
    addEvent: (name, attributes) => span.addEvent(name, attributes as never),
    recordException(exception) {
      span.recordException(exception as never);
      const message = exception instanceof Error ? exception.message : String(exception);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    },
    end: () => span.end(),
  };
}

/**
 * A trace hook for `@contextvars/carry`: `inject` reads the active span's context
 * (as `injectTraceContext` would send it, without baggage: nothing undeclared
 * leaves the process); `run` makes a carried context the remote parent of the
 * spans the work starts, or detaches the work from any trace when none was
 * carried; `startSpan` starts the producer and consumer spans of a job queue.
 *
 * @example
 * ```ts
 * import { defineCarrier } from '@contextvars/carry';
 * import { traceCarrier } from '@contextvars/otel-bridge';
 *
 * const carrier = defineCarrier({ vars: {}, trace: traceCarrier() });
 * ```
 */
export function traceCarrier(options: TraceCarrierOptions = {}): TraceCarrier {
  const tracer = () => options.tracer ?? trace.getTracer('@contextvars/carry');
  return {
    inject() {
      try {
        const ctx = activeOtelContext();
        return headersOf(ctx, trace.getSpanContext(ctx));
      } catch {
        return undefined;
      }
    },
    run(headers, fn) {
      const ctx = headers === undefined ? undefined : remoteContext(headers);
      return context.with(ctx ?? ROOT_CONTEXT, fn);
    },
    startSpan(name, { kind, parent, links }) {
      const parentCtx = (parent && remoteContext(parent)) ?? activeOtelContext();
      const spanLinks: Link[] = [];
      for (const link of links ?? []) {
        const linked = remoteContext(link);
        const spanContext = linked && trace.getSpanContext(linked);
        if (spanContext !== undefined) spanLinks.push({ context: spanContext });
      }
      const span = tracer().startSpan(name, { kind: KINDS[kind], links: spanLinks }, parentCtx);
      return carriedSpan(span, parentCtx);
    },
  };
}
