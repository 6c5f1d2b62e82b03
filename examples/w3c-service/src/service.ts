/**
 * The test service of the W3C Trace Context validation suite, on Fastify with the
 * contextvars adapter: the incoming `traceparent`/`tracestate` are extracted in
 * `onRequest`, and every call the harness asks for is made inside a span of the
 * OpenTelemetry SDK with `injectTraceContext` writing the outgoing headers.
 *
 * @module
 */
import { contextvars } from '@contextvars/fastify';
import {
  extractTraceContext,
  injectTraceContext,
  registerContextManager,
} from '@contextvars/otel-bridge';
import { type Span, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';

/** One call the harness asks for: POST `arguments` (as JSON) to `url`. */
interface Call {
  url: string;
  arguments?: unknown;
}

function isCall(value: unknown): value is Call {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Call).url === 'string' &&
    /^https?:\/\//.test((value as Call).url)
  );
}

/**
 * Builds the service: `POST /test` takes the harness's JSON array of calls and
 * makes them one after the other, each as a client span of its own. The global
 * context manager is registered here and unregistered when the app closes.
 */
export async function buildService(): Promise<FastifyInstance> {
  const unregister = registerContextManager();
  // No exporter: the suite looks at headers only. The default sampler follows the parent.
  const tracer = new BasicTracerProvider().getTracer('w3c-service');
  const app = Fastify();
  app.addHook('onClose', async () => unregister());
  await app.register(contextvars, { onRequest: (req) => void extractTraceContext(req.headers) });

  app.post('/test', async (request) => {
    const calls = Array.isArray(request.body) ? request.body.filter(isCall) : [];
    for (const call of calls) {
      await tracer.startActiveSpan('call', { kind: SpanKind.CLIENT }, async (span: Span) => {
        try {
          const headers = injectTraceContext({ 'content-type': 'application/json' });
          const response = await fetch(call.url, {
            method: 'POST',
            headers,
            body: JSON.stringify(call.arguments ?? []),
          });
          await response.arrayBuffer(); // drain it: the socket goes back to the pool
        } catch {
          // The harness reports a missing callback itself; nothing to add here.
        } finally {
          span.end();
        }
      });
    }
    return { calls: calls.length };
  });
  return app;
}
