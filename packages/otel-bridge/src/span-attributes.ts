/**
 * Context vars as span attributes.
 *
 * @module
 */
import { type ContextVar, Token } from '@contextvars/core';
import type { AttributeValue, Context as OtelContext, Span } from '@opentelemetry/api';

/** The `SpanProcessor` shape of `@opentelemetry/sdk-trace-base`, without depending on it. */
export interface ContextVarSpanProcessor {
  onStart(span: Span, parentContext: OtelContext): void;
  onEnd(span: unknown): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

function toAttribute(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    default:
      if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
        return value as string[];
      return undefined; // objects, functions, symbols: not attribute values
  }
}

/**
 * A `SpanProcessor` that copies the values of the given vars, as they are where a
 * span starts, into attributes of every span. Unset vars, `null`/`undefined` and
 * values that are not attribute values (objects) are skipped.
 *
 * @example
 * ```ts
 * new BasicTracerProvider({ spanProcessors: [contextVarAttributes({ 'enduser.id': userId }), exporter] });
 * ```
 */
export function contextVarAttributes(
  mapping: Record<string, ContextVar<unknown>>,
): ContextVarSpanProcessor {
  const entries = Object.entries(mapping ?? {});
  return {
    onStart(span: Span): void {
      for (const [name, v] of entries) {
        const attribute = toAttribute(v.get(Token.MISSING));
        if (attribute !== undefined) span.setAttribute(name, attribute);
      }
    },
    onEnd(): void {},
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
