import { propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  baggageVars,
  formatBaggage,
  formatTraceParent,
  parseBaggage,
  parseTraceParent,
} from '../src/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('parses a valid header and formats it back', () => {
    const tp = parseTraceParent(`00-${TRACE}-${SPAN}-01`);
    expect(tp).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1 });
    expect(formatTraceParent(tp!)).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(parseTraceParent(`01-${TRACE}-${SPAN}-00-extra`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 0,
    });
  });

  it.each([
    ['wrong version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with extra fields', `00-${TRACE}-${SPAN}-01-extra`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['long span id', `00-${TRACE}-${SPAN}0-01`],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['huge value', `00-${TRACE}-${SPAN}-01-${'x'.repeat(100_000)}`],
    ['CRLF injection', `00-${TRACE}-${SPAN}-01\r\nx-evil: 1`],
    ['empty', ''],
    ['garbage', 'hello'],
    ['array (repeated header)', [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]],
    ['not a string', 42],
  ])('ignores %s', (_why, header) => {
    expect(parseTraceParent(header)).toBeUndefined();
  });
});

describe('baggage', () => {
  it('round-trips any key/value, including , ; = spaces and non-ASCII', () => {
    const keyArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);
    fc.assert(
      fc.property(fc.dictionary(keyArb, fc.string({ maxLength: 30 }), { maxKeys: 10 }), (dict) => {
        const entries = new Map(Object.entries(dict));
        expect(parseBaggage(formatBaggage(entries))).toEqual(entries);
      }),
    );
    const tricky = new Map([['k', 'a,b;c=d e ü 🚀 %']]);
    expect(parseBaggage(formatBaggage(tricky))).toEqual(tricky);
  });

  it('drops whole members beyond 64 members or 8192 bytes, on inject and on extract', () => {
    const many = new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
    const header = formatBaggage(many);
    expect(header.split(',')).toHaveLength(BAGGAGE_MAX_MEMBERS);
    const big = new Map(
      Array.from({ length: 10 }, (_, i) => [`k${i}`, 'x'.repeat(1000)] as [string, string]),
    );
    const bigHeader = formatBaggage(big);
    expect(bigHeader.length).toBeLessThanOrEqual(BAGGAGE_MAX_BYTES);
    for (const member of bigHeader.split(',')) expect(member).toMatch(/^k\d=x{1000}$/); // none cut
    const incoming = Array.from({ length: 100 }, (_, i) => `k${i}=v`).join(',');
    expect(parseBaggage(incoming).size).toBe(BAGGAGE_MAX_MEMBERS);
    // a member that can never fit is dropped whole; the ones after it still count
    expect(parseBaggage(`a=${'x'.repeat(9000)},b=1`)).toEqual(new Map([['b', '1']]));
  });

  it('ignores malformed members without throwing', () => {
    const parsed = parseBaggage(
      'good=1, =novalue, bad key=2, noequals, ok2=two;prop=1, quote="x", ctl=a\u0001b',
    );
    expect(parsed).toEqual(
      new Map([
        ['good', '1'],
        ['ok2', 'two'],
      ]),
    );
    expect(parseBaggage(undefined).size).toBe(0);
    expect(parseBaggage(['a=1', 'b=2'])).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    );
  });
});

describe('baggage properties through the propagator', () => {
  it('extract keeps member properties, inject writes them out again', () => {
    const propagator = baggageVars({});
    const getter = { get: (c: Record<string, string>, k: string) => c[k], keys: Object.keys };
    const ctx = propagator.extract(ROOT_CONTEXT, { baggage: 'k=v;prop=1;flag, plain=2' }, getter);
    const entry = propagation.getBaggage(ctx)?.getEntry('k');
    expect(entry?.value).toBe('v');
    expect(entry?.metadata?.toString()).toBe('prop=1;flag');
    const out: Record<string, string> = {};
    propagator.inject(ctx, out, {
      set: (c, k, v) => {
        c[k] = v;
      },
    });
    expect(out.baggage).toBe('k=v;prop=1;flag,plain=2');
  });
});
