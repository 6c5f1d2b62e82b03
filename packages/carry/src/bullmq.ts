/**
 * `@contextvars/carry/bullmq`: a carrier fitted into BullMQ's own telemetry
 * interface (the `telemetry` option of `Queue`, `Worker` and `FlowProducer`), so
 * no BullMQ class is wrapped. BullMQ asks the telemetry for a string of metadata
 * when a job is added and stores it in the job's options; the worker hands it back
 * when it processes the job, on every attempt. That string is our record.
 *
 * - Producer (`add`, `addBulk`, flows): the record holds the declared vars, the
 *   request id and, with a trace hook, the trace context of the producer span.
 * - Consumer (`process`): the processor runs in a fresh Context restored from the
 *   record (an empty one when the job carries nothing), never in the worker
 *   loop's. BullMQ's `failed` and `completed` events fire inside it too.
 * - Spans (when the trace hook can start them): `add <queue>` (PRODUCER) in the
 *   producer's trace, and `process <queue>` (CONSUMER), a child of the producer
 *   span that also links to it, as OpenTelemetry's messaging conventions allow
 *   for single-message processing and recommend, respectively.
 *
 * @module
 */
import { Context } from '@contextvars/core';
import type {
  Attributes,
  AttributeValue,
  Span as BullSpan,
  ContextManager,
  Exception,
  Meter,
  SpanOptions,
  Telemetry,
  Tracer,
} from 'bullmq';
import type { Carrier } from './carrier.js';
import type { CarriedSpan, CarriedSpanKind, TraceHeaders, TraceHook } from './trace.js';

/**
 * What BullMQ calls a context, for this telemetry: where a piece of BullMQ's work
 * runs. Opaque to apps; BullMQ only passes it back.
 */
export interface JobScope {
  /** @internal The Context a job runs in; `undefined`: the current one. */
  readonly ctx: Context | undefined;
  /** @internal The producer's trace context, from the record. */
  readonly trace: TraceHeaders | undefined;
  /** @internal The span made active by `with`. */
  readonly span: CarriedSpan | undefined;
  /** @internal Run detached from the current Context and trace (`root()`). */
  readonly detached: boolean;
}

/**
 * The scope of a job's record, decoded on first use: BullMQ also hands the record
 * to operations that do not need it (fetching the next job), and a refused record
 * should be reported once, when the job is processed.
 */
class RecordScope implements JobScope {
  #restored: { ctx: Context; trace: TraceHeaders | undefined } | undefined;
  readonly span = undefined;
  readonly detached = false;

  constructor(
    private readonly carrier: Carrier,
    private readonly metadata: string,
  ) {}

  get ctx(): Context {
    return this.#restore().ctx;
  }
  get trace(): TraceHeaders | undefined {
    return this.#restore().trace;
  }
  #restore() {
    this.#restored ??= this.carrier.restoreOrReport(this.metadata);
    return this.#restored;
  }
}

/** Options of {@link bullmqTelemetry}. */
export interface BullmqTelemetryOptions {
  /**
   * Start spans for BullMQ's internal operations too (`getNextJob`, `close`,
   * stalled-job checks…), not only for adding and processing jobs. Default `false`.
   */
  internalSpans?: boolean;
  /** A BullMQ meter (BullMQ's metrics), passed through as it is. */
  meter?: Meter;
}

// BullMQ's SpanKind enum, by value: importing the enum would load BullMQ.
const PRODUCER = 3;
const CONSUMER = 4;

const CURRENT: JobScope = Object.freeze({
  ctx: undefined,
  trace: undefined,
  span: undefined,
  detached: false,
});
const ROOT: JobScope = Object.freeze({ ...CURRENT, detached: true });

const noopSpan: CarriedSpan = {
  headers: () => undefined,
  run: (fn) => fn(),
  setAttributes() {},
  addEvent() {},
  recordException() {},
  end() {},
};

function kindOf(kind: number): CarriedSpanKind {
  return kind === PRODUCER ? 'producer' : kind === CONSUMER ? 'consumer' : 'internal';
}

/** BullMQ's view of one of our spans. */
class JobSpan implements BullSpan<JobScope> {
  constructor(
    private readonly span: CarriedSpan,
    private readonly consumer: boolean,
  ) {}

  setSpanOnContext(scope: JobScope): JobScope {
    if (!this.consumer) return Object.freeze({ ...CURRENT, span: this.span });
    // A job is processed in a Context of its own, even when it carries nothing.
    return Object.freeze({
      ctx: scope.ctx ?? new Context(),
      trace: scope.trace,
      span: this.span,
      detached: false,
    });
  }
  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttributes({ [key]: value });
  }
  setAttributes(attributes: Attributes): void {
    this.span.setAttributes(attributes);
  }
  addEvent(name: string, attributes?: Attributes): void {
    this.span.addEvent(name, attributes);
  }
  recordException(exception: Exception): void {
    this.span.recordException(exception);
  }
  end(): void {
    this.span.end();
  }
}

function startSpan(
  hook: TraceHook | undefined,
  internalSpans: boolean,
  name: string,
  kind: CarriedSpanKind,
  scope: JobScope | undefined,
): CarriedSpan {
  if (hook?.startSpan === undefined || (kind === 'internal' && !internalSpans)) return noopSpan;
  const start = hook.startSpan.bind(hook);
  const parent = scope?.trace;
  let span: CarriedSpan;
  if (kind === 'consumer') {
    span =
      parent === undefined
        ? // Nothing carried: the job starts a trace of its own, not one under
          // whatever the worker loop has active.
          hook.run(undefined, () => start(name, { kind }))
        : start(name, { kind, parent, links: [parent] });
  } else {
    span = start(name, parent === undefined ? { kind } : { kind, parent });
  }
  if (kind !== 'internal') {
    span.setAttributes({
      'messaging.system': 'bullmq',
      'messaging.operation.type': kind === 'producer' ? 'send' : 'process',
    });
  }
  return span;
}

/**
 * BullMQ telemetry that carries `carrier`'s vars, request id and trace context
 * from where a job is added to where it is processed. Give the same one (or one
 * made from the same declaration) to the `Queue` and to the `Worker`:
 *
 * ```ts
 * const telemetry = bullmqTelemetry(carrier);
 * const queue = new Queue('orders', { connection, telemetry });
 * const worker = new Worker('orders', processor, { connection, telemetry });
 * ```
 *
 * A job whose record is refused (malformed, oversized, of another version,
 * tampered) is still processed, in an empty Context; the carrier's `onInvalid`
 * hears of it.
 */
export function bullmqTelemetry(
  carrier: Carrier,
  options: BullmqTelemetryOptions = {},
): Telemetry<JobScope> {
  const hook = carrier.traceHook;
  const internalSpans = options.internalSpans ?? false;

  const tracer: Tracer<JobScope> = {
    startSpan(name: string, spanOptions?: SpanOptions, scope?: JobScope) {
      const kind = kindOf(spanOptions?.kind ?? 0);
      return new JobSpan(startSpan(hook, internalSpans, name, kind, scope), kind === 'consumer');
    },
  };

  const contextManager: ContextManager<JobScope> = {
    active: () => CURRENT,
    root: () => ROOT,
    with<A extends (...args: any[]) => any>(scope: JobScope, fn: A): ReturnType<A> {
      const { span, ctx } = scope;
      if (scope.detached) {
        const detached = new Context();
        return hook === undefined
          ? detached.run(fn)
          : detached.run(() => hook.run(undefined, fn as () => ReturnType<A>));
      }
      const inner =
        span !== undefined && span !== noopSpan
          ? () => span.run(fn as () => ReturnType<A>)
          : hook !== undefined && ctx !== undefined
            ? () => hook.run(scope.trace, fn as () => ReturnType<A>)
            : (fn as () => ReturnType<A>);
      return ctx === undefined ? inner() : ctx.run(inner);
    },
    getMetadata(scope: JobScope): string {
      const record = carrier.inject(scope.span?.headers());
      const empty =
        record.trace === undefined &&
        record.requestId === undefined &&
        Object.keys(record.vars).length === 0;
      // An empty string is falsy to BullMQ: the job then carries no metadata at all.
      return empty ? '' : JSON.stringify(record);
    },
    fromMetadata(_active: JobScope, metadata: string): JobScope {
      return new RecordScope(carrier, metadata);
    },
  };

  return options.meter === undefined
    ? { tracer, contextManager }
    : { tracer, contextManager, meter: options.meter };
}
