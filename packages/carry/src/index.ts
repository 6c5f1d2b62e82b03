/**
 * `@contextvars/carry`: declared context vars, the request id and the trace context
 * carried with work handed to worker threads and job queues, in a small, versioned,
 * JSON-safe record, and restored in a fresh Context where the work runs. BullMQ's
 * telemetry is in `@contextvars/carry/bullmq`.
 *
 * @packageDocumentation
 */
export {
  type Carried,
  Carrier,
  type CarrierOptions,
  defineCarrier,
  type VarSpec,
} from './carrier.js';
export type { Codec, CodecFor, CodecName } from './codecs.js';
export {
  CarryEncodeError,
  CarryError,
  type CarryErrorCode,
  CarryRecordError,
  type CarryRecordReason,
} from './errors.js';
export type { JsonValue } from './json.js';
export {
  type CarryRecord,
  MAX_RECORD_BYTES,
  MAX_RECORD_VARS,
  RECORD_VERSION,
} from './record.js';
export type {
  CarriedSpan,
  CarriedSpanKind,
  CarriedSpanOptions,
  TraceHeaders,
  TraceHook,
} from './trace.js';
