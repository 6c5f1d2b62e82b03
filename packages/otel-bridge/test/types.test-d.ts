import type { IncomingHttpHeaders } from 'node:http';
import { ContextVar } from '@contextvars/core';
import type { RequestScopeOptions } from '@contextvars/http';
import {
  BAGGAGE_MAX_BYTES,
  baggageVars,
  type ChildLogger,
  type ContextManagerRegisteredError,
  ContextVarsContextManager,
  contextVarAttributes,
  extractTraceContext,
  formatTraceParent,
  type IncomingHeaders,
  injectTraceContext,
  parseBaggage,
  parseTraceParent,
  pinoMixin,
  type RequestLoggerVar,
  registerContextManager,
  requestLogger,
  type TraceParent,
} from '@contextvars/otel-bridge';
import type { Context, ContextManager, TextMapPropagator } from '@opentelemetry/api';
import { describe, expectTypeOf, it } from 'vitest';

describe('@contextvars/otel-bridge public types', () => {
  it('the context manager is an OpenTelemetry ContextManager', () => {
    expectTypeOf(new ContextVarsContextManager()).toExtend<ContextManager>();
    expectTypeOf(new ContextVarsContextManager().enable()).toExtend<ContextManager>();
    expectTypeOf(registerContextManager()).toExtend<(() => void) & Disposable>();
    expectTypeOf<ContextManagerRegisteredError>().toExtend<Error>();
  });

  it('vars into spans and baggage', () => {
    const tenant = new ContextVar<string>('tenant');
    const processor = contextVarAttributes({ 'app.tenant': tenant });
    expectTypeOf(processor.onStart).toBeFunction();
    expectTypeOf(baggageVars({ tenant })).toEqualTypeOf<TextMapPropagator>();
  });

  it('extractTraceContext fits the adapters onRequest option', () => {
    expectTypeOf(extractTraceContext).parameter(0).toEqualTypeOf<IncomingHeaders>();
    expectTypeOf(extractTraceContext({})).toEqualTypeOf<Context>();
    const headers: IncomingHttpHeaders = {};
    extractTraceContext(headers);
    const options: RequestScopeOptions<{ headers: IncomingHttpHeaders }> = {
      onRequest: (req) => extractTraceContext(req.headers),
    };
    expectTypeOf(options).toBeObject();
    expectTypeOf(injectTraceContext({ accept: 'json' })).toEqualTypeOf<{ accept: string }>();
  });

  it('pino: a mixin, and the request logger var', () => {
    const mixin = pinoMixin({ vars: { tenant: new ContextVar<string>('tenant') } });
    expectTypeOf(mixin).returns.toBeObject();
    expectTypeOf(requestLogger).toExtend<ContextVar<ChildLogger>>();
    expectTypeOf(requestLogger).toEqualTypeOf<RequestLoggerVar>();
    expectTypeOf(requestLogger.get()).toExtend<ChildLogger>();
  });

  it('W3C parsers', () => {
    expectTypeOf(parseTraceParent).returns.toEqualTypeOf<TraceParent | undefined>();
    expectTypeOf(formatTraceParent).returns.toEqualTypeOf<string>();
    expectTypeOf(parseBaggage('')).toExtend<ReadonlyMap<string, string>>();
    expectTypeOf(BAGGAGE_MAX_BYTES).toExtend<number>();
  });
});
