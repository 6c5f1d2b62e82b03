// The OpenTelemetry setup, preloaded with `--require ./otel.cjs` (also by the ESM
// apps: the common pattern). NodeSDK with the bridge's context manager (or, as the
// control, the SDK's default one), the auto-instrumentations a user would add, and
// a span processor that writes every span as a JSON line the test reads.
'use strict';
const fs = require('node:fs');
const api = require('@opentelemetry/api');
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
const { PinoInstrumentation } = require('@opentelemetry/instrumentation-pino');
const { CompositePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core');
const { ContextVar } = require('@contextvars/core');
const { ContextVarsContextManager, baggageVars } = require('@contextvars/otel-bridge');

const { FRAMEWORK, CONTEXT_MANAGER, SPANS_FILE, POINTS_FILE } = process.env;

const tenant = new ContextVar('tenant');
const user = new ContextVar('user');

/** Where a span stands when a child starts under it: what "open" is judged on. */
const parentAtStart = new WeakMap();

function stateOf(span) {
  if (span === undefined) return null;
  if (span.spanContext().isRemote) return 'remote';
  return span.isRecording() ? 'open' : 'ended';
}

const recorder = {
  onStart(span, parentContext) {
    const parent = api.trace.getSpan(parentContext);
    parentAtStart.set(span, {
      parentAtStart: parent?.spanContext().spanId ?? null,
      parentState: stateOf(parent),
    });
  },
  onEnd(span) {
    const sc = span.spanContext();
    const parent = span.parentSpanContext ?? null;
    const record = {
      name: span.name,
      traceId: sc.traceId,
      spanId: sc.spanId,
      parentSpanId: parent?.spanId ?? span.parentSpanId ?? null,
      parentRemote: parent?.isRemote ?? null,
      kind: span.kind,
      attributes: span.attributes,
      ...parentAtStart.get(span),
    };
    fs.appendFileSync(SPANS_FILE, `${JSON.stringify(record)}\n`);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

const instrumentations = [
  new HttpInstrumentation(),
  new UndiciInstrumentation(),
  new PinoInstrumentation(),
];
let fastifyOtel;
if (FRAMEWORK === 'fastify') {
  const { FastifyOtelInstrumentation } = require('@fastify/otel');
  // registerOnInitialization: @fastify/otel's own way with an SDK; it then wraps
  // every hook registered after it, our adapter's included.
  fastifyOtel = new FastifyOtelInstrumentation({ registerOnInitialization: true });
  instrumentations.push(fastifyOtel);
} else if (FRAMEWORK === 'express') {
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
  instrumentations.push(new ExpressInstrumentation());
} else if (FRAMEWORK === 'koa') {
  const { KoaInstrumentation } = require('@opentelemetry/instrumentation-koa');
  instrumentations.push(new KoaInstrumentation());
}

const sdk = new NodeSDK({
  contextManager: CONTEXT_MANAGER === 'default' ? undefined : new ContextVarsContextManager(),
  textMapPropagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), baggageVars({ tenant, user })],
  }),
  spanProcessors: [recorder],
  instrumentations,
});
sdk.start();

const tracer = api.trace.getTracer('otel-sdk-app');

/**
 * Writes what code at `at` sees: the active span (id, name, still open or not) and
 * the request id var, for the request `tag` (the test's own numbering).
 */
function point(at, tag, rid) {
  const span = api.trace.getActiveSpan();
  const sc = span?.spanContext();
  const record = {
    at,
    tag,
    rid,
    spanId: sc?.spanId ?? null,
    traceId: sc?.traceId ?? null,
    name: span?.name ?? null,
    state: stateOf(span),
  };
  fs.appendFileSync(POINTS_FILE, `${JSON.stringify(record)}\n`);
}

module.exports = { sdk, tracer, fastifyOtel, tenant, user, point, api };
