/**
 * `@contextvars/otel-bridge`: one context for traces, values and logs.
 *
 * @packageDocumentation
 */
export { ContextVarsContextManager, registerContextManager } from './context-manager.js';
export { ContextManagerRegisteredError } from './errors.js';
export {
  type ChildLogger,
  type LogFn,
  type PinoMixin,
  type PinoMixinOptions,
  pinoMixin,
  RequestLoggerVar,
  requestLogger,
} from './pino.js';
export {
  activeOtelContext,
  baggageVars,
  extractTraceContext,
  type IncomingHeaders,
  injectTraceContext,
} from './propagation.js';
export { type ContextVarSpanProcessor, contextVarAttributes } from './span-attributes.js';
export {
  type CarriedTraceHeaders,
  type CarriedTraceSpan,
  type TraceCarrier,
  type TraceCarrierOptions,
  traceCarrier,
} from './trace-carrier.js';
export {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  type BaggageMember,
  formatBaggage,
  formatTraceParent,
  parseBaggage,
  parseTraceParent,
  type TraceParent,
} from './w3c.js';
