/**
 * Round trips with OpenTelemetry's own W3C propagators: what we inject,
 * `W3CTraceContextPropagator` and `W3CBaggagePropagator` extract to the same
 * values, and what they inject, we extract to the same values.
 */
import { copyContext, requestId } from '@contextvars/core';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Context as OtelContext,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import { TraceState, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTraceContext, injectTraceContext, registerContextManager } from '../src/index.js';
import { W3CTraceState } from '../src/trace-state.js';

const traceContext = new W3CTraceContextPropagator();
const baggage = new W3CBaggagePropagator();

let unregister: () => void;
beforeAll(() => {
  unregister = registerContextManager();
});
afterAll(() => unregister());

function inRequest<T>(fn: () => T): T {
  return copyContext().run(() => {
    requestId.set('w3c-roundtrip');
    return fn();
  });
}

const hex = (length: number) =>
  fc
    .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length })
    .filter((s) => /[^0]/.test(s));

// Keys both grammars accept: core's TraceState predates `@` anywhere, so the
// generated keys stay in the common part; values: printable ASCII but `,` `=`,
// not ending in a space.
const stateKey = fc.stringMatching(/^[a-z][a-z0-9_\-*/]{0,15}$/);
const stateValue = fc.stringMatching(
  /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,20}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/,
);
const stateEntries = fc.uniqueArray(fc.tuple(stateKey, stateValue), {
  selector: ([k]) => k,
  maxLength: 12, // 12 × (16 + 1 + 21) + 11 < 512: within core's own limit too
});

const spanContexts = fc.record({
  traceId: hex(32),
  spanId: hex(16),
  traceFlags: fc.integer({ min: 0, max: 0xff }),
  entries: stateEntries,
});

// Keys `encodeURIComponent` leaves alone (core encodes keys, we do not decode them);
// values: any well-formed string, non-empty (core drops empty values).
// core collects entries into a plain object, where `__proto__` is not a key.
const baggageKey = fc.stringMatching(/^[A-Za-z0-9_.!~*'-]{1,12}$/).filter((k) => k !== '__proto__');
const baggageValue = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 24 })
  .filter((s) => !/[\uD800-\uDFFF]/u.test(s) && s.trim() === s && s.length > 0);
const baggageEntries = fc.uniqueArray(fc.tuple(baggageKey, baggageValue), {
  selector: ([k]) => k,
  maxLength: 16,
});

function injectOurs(ctx: OtelContext): Record<string, string> {
  return inRequest(() => context.with(ctx, () => injectTraceContext({})));
}

function extractOurs(headers: Record<string, string>): OtelContext {
  return inRequest(() => extractTraceContext(headers));
}

describe('round trips with @opentelemetry/core', () => {
  it('traceparent and tracestate: ours → W3CTraceContextPropagator', () => {
    fc.assert(
      fc.property(spanContexts, ({ traceId, spanId, traceFlags, entries }) => {
        const traceState = W3CTraceState.of(entries);
        const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, traceState });
        const headers = injectOurs(ctx);
        const theirs = trace.getSpanContext(
          traceContext.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
        );
        expect(theirs).toMatchObject({ traceId, spanId, traceFlags: traceFlags & 0x03 });
        expect(theirs?.traceState?.serialize() ?? '').toBe(traceState.serialize());
        for (const [key, value] of entries) expect(theirs?.traceState?.get(key)).toBe(value);
      }),
    );
  });

  it('traceparent and tracestate: W3CTraceContextPropagator → ours', () => {
    fc.assert(
      fc.property(spanContexts, ({ traceId, spanId, traceFlags: flags, entries }) => {
        // core writes flags as `0` + hex, which breaks from 0x10 up: stay below
        const traceFlags = flags & 0x0f;
        const header = entries.map(([k, v]) => `${k}=${v}`).join(',');
        const traceState = new TraceState(header);
        const headers: Record<string, string> = {};
        const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, traceState });
        traceContext.inject(ctx, headers, defaultTextMapSetter);
        const ours = trace.getSpanContext(extractOurs(headers));
        expect(ours).toMatchObject({ traceId, spanId, traceFlags: traceFlags & 0x03 });
        expect(ours?.traceState?.serialize() ?? '').toBe(traceState.serialize());
      }),
    );
  });

  it('baggage: ours → W3CBaggagePropagator', () => {
    fc.assert(
      fc.property(baggageEntries, (entries) => {
        const bag = propagation.createBaggage(
          Object.fromEntries(entries.map(([k, value]) => [k, { value }])),
        );
        const headers = injectOurs(propagation.setBaggage(ROOT_CONTEXT, bag));
        const theirs = propagation.getBaggage(
          baggage.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
        );
        const got = new Map(theirs?.getAllEntries().map(([k, e]) => [k, e.value]));
        expect(got).toEqual(new Map(entries));
      }),
    );
  });

  it('baggage: W3CBaggagePropagator → ours', () => {
    fc.assert(
      fc.property(baggageEntries, (entries) => {
        const bag = propagation.createBaggage(
          Object.fromEntries(entries.map(([k, value]) => [k, { value }])),
        );
        const headers: Record<string, string> = {};
        baggage.inject(propagation.setBaggage(ROOT_CONTEXT, bag), headers, defaultTextMapSetter);
        const ours = propagation.getBaggage(extractOurs(headers));
        const got = new Map(ours?.getAllEntries().map(([k, e]) => [k, e.value]));
        expect(got).toEqual(new Map(entries));
      }),
    );
  });
});
