/**
 * Trace context and baggage across service boundaries: a `TextMapPropagator` that
 * carries chosen vars in W3C `baggage`, and helpers that extract an incoming
 * request's trace context into its contextvars Context and inject the current one
 * into outgoing headers, for apps that run no OpenTelemetry SDK instrumentation.
 *
 * @module
 */
import { type ContextVar, InvalidArgTypeError, requestId, Token } from '@contextvars/core';
import { HTTP_TOKEN } from '@contextvars/http';
import {
  baggageEntryMetadataFromString,
  context,
  diag,
  isSpanContextValid,
  type Context as OtelContext,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { baggageRegistry, incomingContext } from './state.js';
import { outgoingTraceFlags, withIncomingTrace } from './trace-flags.js';
import { parseTraceState, serializeTraceState } from './trace-state.js';
import {
  type BaggageMember,
  formatBaggage,
  formatTraceParent,
  parseBaggageMembers,
  parseTraceParent,
} from './w3c.js';

/**
 * The active OpenTelemetry context, as the global context manager has it; where it
 * has none (another manager, no instrumentation), the trace context that
 * {@link extractTraceContext} found on the incoming request.
 */
export function activeOtelContext(): OtelContext {
  const active = context.active();
  return active === ROOT_CONTEXT ? incomingContext.get(ROOT_CONTEXT) : active;
}

function assertMapping(
  mapping: unknown,
  what: string,
): asserts mapping is Record<string, ContextVar<unknown>> {
  if (mapping === null || typeof mapping !== 'object') {
    throw new InvalidArgTypeError(`${what} needs an object of name → ContextVar`);
  }
  for (const [name, v] of Object.entries(mapping)) {
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof (v as ContextVar<unknown>).get !== 'function'
    ) {
      throw new InvalidArgTypeError(`${what}: "${name}" must map to a ContextVar`);
    }
  }
}

function withEntries(ctx: OtelContext, entries: Map<string, BaggageMember>): OtelContext {
  if (entries.size === 0) return ctx;
  let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const [key, { value, properties }] of entries) {
    // Properties are opaque metadata to OpenTelemetry: kept so they go out again.
    bag = bag.setEntry(
      key,
      properties ? { value, metadata: baggageEntryMetadataFromString(properties) } : { value },
    );
  }
  return propagation.setBaggage(ctx, bag);
}

function outgoingBaggage(
  ctx: OtelContext,
  vars: Iterable<readonly [string, ContextVar<unknown>]>,
): string {
  const entries = new Map<string, string | BaggageMember>();
  const bag = propagation.getBaggage(ctx);
  if (bag !== undefined)
    for (const [key, entry] of bag.getAllEntries()) {
      // Properties ride along as OpenTelemetry keeps them: opaque metadata.
      const properties = entry.metadata?.toString();
      entries.set(key, properties ? { value: entry.value, properties } : entry.value);
    }
  for (const [key, v] of vars) {
    const value = v.get(Token.MISSING);
    if (value === Token.MISSING || value === undefined || value === null) continue;
    try {
      entries.set(key, String(value));
    } catch (err) {
      // A value whose toString throws must not break the outgoing call.
      diag.warn(`contextvars: baggage "${key}" could not be converted to a string; not sent`, err);
    }
  }
  return formatBaggage(entries);
}

/**
 * A `TextMapPropagator` for W3C `baggage` that also carries the given vars: on
 * inject, the vars' current values join the context's baggage (a var wins over a
 * baggage entry of the same key); on extract, the incoming entries become the
 * context's baggage, and {@link extractTraceContext} sets the vars from them in the
 * request's Context. It replaces `W3CBaggagePropagator` in a composite propagator.
 * Values are percent-encoded; the W3C limits (64 members, 8192 bytes) are enforced
 * both ways by dropping whole members; malformed members are ignored.
 *
 * @example
 * ```ts
 * propagation.setGlobalPropagator(new CompositePropagator({
 *   propagators: [new W3CTraceContextPropagator(), baggageVars({ tenant: tenantVar })],
 * }));
 * ```
 */
export function baggageVars(mapping: Record<string, ContextVar<unknown>>): TextMapPropagator {
  assertMapping(mapping, 'baggageVars()');
  const vars = Object.entries(mapping);
  for (const [key, v] of vars) {
    if (!HTTP_TOKEN.test(key))
      throw new InvalidArgTypeError(`baggageVars(): "${key}" is not a valid baggage key`);
    baggageRegistry.set(key, v as ContextVar<unknown>);
  }
  return {
    inject(ctx: OtelContext, carrier: unknown, setter: TextMapSetter): void {
      const header = outgoingBaggage(ctx, vars);
      if (header !== '') setter.set(carrier, 'baggage', header);
    },
    extract(ctx: OtelContext, carrier: unknown, getter: TextMapGetter): OtelContext {
      return withEntries(ctx, parseBaggageMembers(getter.get(carrier, 'baggage')));
    },
    fields(): string[] {
      return ['baggage'];
    },
  };
}

/** Incoming HTTP headers, as Node's `IncomingMessage#headers` has them. */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

/**
 * Makes an incoming request's `traceparent`, `tracestate` and `baggage` the
 * request's trace context, and sets the vars of every {@link baggageVars} mapping
 * from the baggage. Meant for the adapters' `onRequest` option:
 * `onRequest: (req) => extractTraceContext(req.headers)`.
 *
 * - No span active (no HTTP instrumentation): the remote parent and baggage become
 *   the request's trace context, which the bridge's context manager (and
 *   {@link pinoMixin}, {@link injectTraceContext}) use wherever no other
 *   OpenTelemetry context is active, for the rest of the request.
 * - A span active (instrumentation extracted the headers and started a server
 *   span): the OpenTelemetry context is left alone, never replaced; only the vars
 *   are set from the incoming baggage.
 * - Outside a request (no adapter set `requestId`): nothing is changed; the
 *   extracted context is only returned, for `context.with(ctx, fn)`.
 *
 * Malformed, repeated or oversized headers are ignored.
 *
 * @returns The extracted context (the active one when a span is active).
 */
export function extractTraceContext(headers: IncomingHeaders): OtelContext {
  const active = activeOtelContext();
  if (headers === null || typeof headers !== 'object') return active;
  // Outside a request the current Context is the process's (or a task's) own:
  // writing there would hand this trace to everything that runs later.
  const inRequest = requestId.get(Token.MISSING) !== Token.MISSING;
  const entries = parseBaggageMembers(headers.baggage);
  if (inRequest) {
    for (const [key, v] of baggageRegistry) {
      const member = entries.get(key);
      if (member !== undefined) v.set(member.value);
    }
  }
  const existing = trace.getSpanContext(active);
  // A span is active: instrumentation extracted the headers and owns the context.
  if (existing !== undefined && isSpanContextValid(existing)) return active;
  let ctx = active;
  // A repeated traceparent is invalid; repeated tracestate fields are combined.
  const parent = parseTraceParent(headers.traceparent);
  if (parent !== undefined) {
    const traceState = parseTraceState(headers.tracestate);
    ctx = withIncomingTrace(ctx, parent);
    ctx = trace.setSpanContext(ctx, { ...parent, isRemote: true, traceState });
  }
  ctx = withEntries(ctx, entries);
  if (inRequest && ctx !== active) incomingContext.set(ctx);
  return ctx;
}

/**
 * Writes the current trace context (`traceparent`, `tracestate`) and baggage (with
 * the vars of every {@link baggageVars} mapping) into `headers`, for outgoing calls
 * made without an instrumented HTTP client. Returns `headers`.
 */
export function injectTraceContext<H extends Record<string, string>>(headers: H = {} as H): H {
  const ctx = activeOtelContext();
  const spanContext = trace.getSpanContext(ctx);
  const out = headers as Record<string, string>;
  if (spanContext !== undefined && isSpanContextValid(spanContext)) {
    const traceFlags = outgoingTraceFlags(ctx, spanContext);
    out.traceparent = formatTraceParent({ ...spanContext, traceFlags });
    const state = serializeTraceState(spanContext.traceState);
    if (state !== undefined) out.tracestate = state;
  }
  const baggage = outgoingBaggage(ctx, baggageRegistry);
  if (baggage !== '') out.baggage = baggage;
  return headers;
}
