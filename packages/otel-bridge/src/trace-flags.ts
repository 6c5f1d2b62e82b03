/**
 * The `trace-flags` of an outgoing `traceparent`: only the flags Trace Context
 * Level 2 defines, and the incoming random flag kept for as long as the trace
 * is continued.
 *
 * @module
 */
import {
  createContextKey,
  type Context as OtelContext,
  type SpanContext,
} from '@opentelemetry/api';

/** `sampled` (bit 0). */
export const FLAG_SAMPLED = 0x01;
/** `random-trace-id` (bit 1, Level 2): the right-most 7 bytes of the trace id are random. */
export const FLAG_RANDOM = 0x02;
/** Every flag we know; the spec has the others set to zero. */
export const KNOWN_FLAGS = FLAG_SAMPLED | FLAG_RANDOM;

/**
 * Where the random flag of an incoming `traceparent` lives. The SDK gives a child
 * span flags of its own (sampled or not, never random), and the remote parent's
 * span context is replaced in the context by the child's, so the incoming flag is
 * kept beside it under its own key, which every context derived from the
 * request's inherits. `createContextKey` uses `Symbol.for`, so ESM and CommonJS
 * copies of the bridge share the key.
 */
const INCOMING_TRACE = createContextKey('@contextvars/otel-bridge incoming trace flags');

interface IncomingTrace {
  readonly traceId: string;
  readonly random: boolean;
}

/** `ctx` remembering the trace id and random flag of an extracted `traceparent`. */
export function withIncomingTrace(
  ctx: OtelContext,
  parent: { traceId: string; traceFlags: number },
): OtelContext {
  const incoming: IncomingTrace = Object.freeze({
    traceId: parent.traceId,
    random: (parent.traceFlags & FLAG_RANDOM) !== 0,
  });
  return ctx.setValue(INCOMING_TRACE, incoming);
}

/**
 * The flags to send for `spanContext` in `ctx`: unknown bits zeroed, and, when the
 * span continues the trace extracted into `ctx`, the random flag exactly as it
 * came in (set if it was set, clear if it was clear, as Level 2 asks both ways).
 */
export function outgoingTraceFlags(ctx: OtelContext, spanContext: SpanContext): number {
  let flags = spanContext.traceFlags & KNOWN_FLAGS;
  const incoming = ctx.getValue(INCOMING_TRACE) as IncomingTrace | undefined;
  if (incoming !== undefined && incoming.traceId === spanContext.traceId) {
    flags = incoming.random ? flags | FLAG_RANDOM : flags & ~FLAG_RANDOM;
  }
  return flags;
}
