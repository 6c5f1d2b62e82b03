/**
 * W3C Trace Context (Level 2) and W3C Baggage, clause by clause: each test names
 * the clause it checks, quoted or paraphrased from the spec's section.
 */
import { ContextVar, copyContext, requestId } from '@contextvars/core';
import {
  context,
  DiagLogLevel,
  diag,
  type Context as OtelContext,
  propagation,
  type Span,
  type TraceState,
  trace,
} from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  baggageVars,
  extractTraceContext,
  formatBaggage,
  formatTraceParent,
  injectTraceContext,
  parseBaggage,
  parseTraceParent,
  registerContextManager,
} from '../src/index.js';
import {
  parseTraceState,
  serializeTraceState,
  TRACESTATE_MAX_LENGTH,
  W3CTraceState,
} from '../src/trace-state.js';
import { parseBaggageMembers } from '../src/w3c.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const tp = (flags = '01', version = '00') => `${version}-${TRACE}-${PARENT}-${flags}`;

/** Runs `fn` in a fresh contextvars Context with a request id, as an adapter runs a request. */
function inRequest<T>(fn: () => T): T {
  return copyContext().run(() => {
    requestId.set('w3c-conformance');
    return fn();
  });
}

/** What a service sends on for `incoming`: extract, then inject with no span of its own. */
function passOn(incoming: Record<string, string | string[]>): Record<string, string> {
  return inRequest(() => {
    extractTraceContext(incoming);
    return inject();
  });
}

const state = (header: unknown) => parseTraceState(header)?.serialize();
const inject = () => injectTraceContext<Record<string, string>>({});

let unregister: () => void;
const tracer = new BasicTracerProvider().getTracer('conformance');
beforeAll(() => {
  unregister = registerContextManager();
});
afterAll(() => unregister());

describe('Trace Context: traceparent', () => {
  it('version: "Version ff is forbidden"', () => {
    expect(parseTraceParent(tp('01', 'ff'))).toBeUndefined();
  });

  it('version-format: version 00 has exactly four fields (trailing data rejects it)', () => {
    expect(parseTraceParent(`${tp()}-extra`)).toBeUndefined();
    expect(parseTraceParent(`${tp()}.`)).toBeUndefined();
  });

  it('Versioning: a higher version is parsed when the flags are followed by "-" or the end', () => {
    expect(parseTraceParent(tp('01', 'cc'))?.traceId).toBe(TRACE);
    expect(parseTraceParent(`${tp('01', 'cc')}-what-the-future-holds`)?.traceId).toBe(TRACE);
    expect(parseTraceParent(`${tp('01', 'cc')}.what-the-future-holds`)).toBeUndefined();
  });

  it('Versioning: "construct the new traceparent according to the highest version known" (00)', () => {
    expect(passOn({ traceparent: `${tp('01', 'cc')}-future` }).traceparent).toBe(tp('01'));
  });

  it('version: not 2 lower-case hex digits restarts the trace', () => {
    for (const v of ['0', '000', '.0', '0.', 'AA'])
      expect(parseTraceParent(tp('01', v))).toBeUndefined();
  });

  it('trace-id: "All bytes as zero is considered an invalid value"; vendors MUST ignore the header', () => {
    expect(parseTraceParent(`00-${'0'.repeat(32)}-${PARENT}-01`)).toBeUndefined();
  });

  it('trace-id: 32 lower-case hex digits (HEXDIGLC); anything else ignores the header', () => {
    expect(parseTraceParent(`00-${TRACE.toUpperCase()}-${PARENT}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE}0-${PARENT}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE.slice(1)}-${PARENT}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-.${TRACE.slice(1)}-${PARENT}-01`)).toBeUndefined();
  });

  it('parent-id: all zeroes or non-lower-case hex: "Vendors MUST ignore the traceparent"', () => {
    expect(parseTraceParent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE}-${PARENT.toUpperCase()}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE}-${PARENT}0-01`)).toBeUndefined();
  });

  it('trace-flags: 2 lower-case hex digits', () => {
    for (const f of ['0', '000', '.0', 'AB']) expect(parseTraceParent(tp(f))).toBeUndefined();
  });

  it('Other Flags: "Vendors MUST set those to zero" (read and written)', () => {
    expect(parseTraceParent(tp('ff'))?.traceFlags).toBe(0x03);
    expect(formatTraceParent({ traceId: TRACE, spanId: PARENT, traceFlags: 0xff })).toBe(tp('03'));
    expect(passOn({ traceparent: tp('ff') }).traceparent).toBe(tp('03'));
    expect(passOn({ traceparent: tp('fc') }).traceparent).toBe(tp('00'));
  });

  it('Random Trace ID Flag: "If the flag is set in the incoming traceparent, it MUST also be set in all outgoing traceparent headers which use the same trace-id"', () => {
    const [own, sent] = inRequest(() => {
      extractTraceContext({ traceparent: tp('03') });
      return tracer.startActiveSpan('call', (span: Span) => {
        const out = [span.spanContext().traceFlags, inject().traceparent];
        span.end();
        return out;
      });
    });
    expect(own).toBe(0x01); // the SDK's child span has no random flag of its own
    expect(sent).toMatch(new RegExp(`^00-${TRACE}-(?!${PARENT})[0-9a-f]{16}-03$`));
  });

  it('Random Trace ID Flag: "If the flag is unset in the incoming traceparent header, it MUST also be unset in any outgoing traceparent headers which use the same trace-id"', () => {
    const sent = inRequest(() => {
      extractTraceContext({ traceparent: tp('01') });
      const ctx = trace.setSpanContext(context.active(), {
        traceId: TRACE,
        spanId: '1111111111111111',
        traceFlags: 0x03, // a span that claims randomness the trace never had
      });
      return context.with(ctx, () => inject().traceparent);
    });
    expect(sent).toBe(`00-${TRACE}-1111111111111111-01`);
  });

  it('Random Trace ID Flag: a different trace-id (a restarted trace) is not bound by the incoming flag', () => {
    const sent = inRequest(() => {
      extractTraceContext({ traceparent: tp('02') });
      const ctx = trace.setSpanContext(context.active(), {
        traceId: 'ffffffffffffffffffffffffffffffff',
        spanId: '1111111111111111',
        traceFlags: 0x01,
      });
      return context.with(ctx, () => inject().traceparent);
    });
    expect(sent).toBe('00-ffffffffffffffffffffffffffffffff-1111111111111111-01');
  });

  it('traceparent is a single field: a repeated traceparent restarts the trace', () => {
    expect(parseTraceParent([tp(), tp()])).toBeUndefined();
    expect(parseTraceParent(`${tp()}, ${tp()}`)).toBeUndefined(); // Node's join of repeats
    expect(parseTraceParent([tp()])).toEqual({ traceId: TRACE, spanId: PARENT, traceFlags: 1 });
  });

  it('Mutating traceparent: "A vendor receiving a traceparent request header MUST send it to outgoing requests"', () => {
    expect(passOn({ traceparent: tp('01') }).traceparent).toBe(tp('01'));
  });
});

describe('Trace Context: tracestate', () => {
  it('"If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate"', () => {
    const out = passOn({ traceparent: `00-${'0'.repeat(32)}-${PARENT}-01`, tracestate: 'foo=1' });
    expect(out.traceparent).toBeUndefined();
    expect(out.tracestate).toBeUndefined();
  });

  it('"failure to parse tracestate MUST NOT affect the parsing of traceparent"', () => {
    const out = passOn({ traceparent: tp(), tracestate: 'FOO=1' });
    expect(out.traceparent).toBe(tp());
    expect(out.tracestate).toBeUndefined();
  });

  it('"When receiving multiple tracestate header fields, they MUST be combined into a single header" (RFC 9110 field order)', () => {
    expect(state(['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'])).toBe(
      'foo=1,bar=2,rojo=1,congo=2,baz=3',
    );
    expect(passOn({ traceparent: tp(), tracestate: ['a=1', 'b=2'] }).tracestate).toBe('a=1,b=2');
    expect(state('foo=1,bar=2, rojo=1')).toBe('foo=1,bar=2,rojo=1'); // Node's own join
  });

  it('list: "There can be a maximum of 32 list-members"; a header with 33 is discarded whole', () => {
    const members = (n: number) =>
      Array.from({ length: n }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i + 1}`);
    expect(state(members(32).join(','))).toBe(members(32).join(','));
    expect(parseTraceState(members(33).join(','))).toBeUndefined();
    expect(parseTraceState([members(30).join(','), 'bar31=31,bar32=32,bar33=33'])).toBeUndefined();
  });

  it('"Empty and whitespace-only list members are allowed"; "Vendors MUST accept empty tracestate headers"', () => {
    expect(state('')).toBe('');
    expect(state(' , \t,foo=1,,  ,bar=2,')).toBe('foo=1,bar=2');
    expect(state(['foo=1', ''])).toBe('foo=1');
    const out = passOn({ traceparent: tp(), tracestate: '' });
    expect(out.traceparent).toBe(tp());
    expect(out.tracestate).toBeUndefined(); // "SHOULD avoid sending them"
  });

  it('"Spaces and horizontal tabs surrounding list-members are ignored"', () => {
    expect(state('foo=1 \t , \t bar=2, \t baz=3')).toBe('foo=1,bar=2,baz=3');
    expect(state('\t foo=1 \t')).toBe('foo=1');
  });

  it('key: "MUST begin with a lowercase letter or a digit"; an invalid key discards the header', () => {
    expect(state('1foo=1,bar=2')).toBe('1foo=1,bar=2');
    for (const bad of ['FOO=1', 'foo.bar=1', 'foo =1', '_foo=1', '*foo=1', '@foo=1,bar=2']) {
      expect(parseTraceState(bad)).toBeUndefined();
    }
  });

  it('key: "contain up to 256 characters"; 257 discards the header', () => {
    const key256 = 'z'.repeat(256);
    expect(W3CTraceState.of([['foo', '1']]).get('foo')).toBe('1');
    expect(parseTraceState(`foo=1,${key256}=1`)?.get(key256)).toBe('1');
    expect(parseTraceState(['foo=1', `${'z'.repeat(257)}=1`])).toBeUndefined();
  });

  it('keychar: at signs are key characters (Level 2): tenant@system within 256, and "foo@", "foo@@bar", "foo@bar@baz"', () => {
    for (const key of [
      `${'t'.repeat(241)}@${'v'.repeat(14)}`,
      `${'t'.repeat(242)}@v`,
      `t@${'v'.repeat(15)}`,
      'foo@',
      'foo@@bar',
      'foo@bar@baz',
    ]) {
      const parsed = parseTraceState(`${key}=1,bar=2`);
      expect(parsed?.get(key)).toBe('1');
      expect(parsed?.get('bar')).toBe('2');
    }
  });

  it('value: printable ASCII but "," and "="; "foo=bar=baz" and an empty value discard the header', () => {
    const all = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((c) => c !== ',' && c !== '=')
      .join('');
    expect(parseTraceState(`abc_-*/@x=${all}`)?.get('abc_-*/@x')).toBe(all);
    expect(parseTraceState('foo=bar=baz')).toBeUndefined();
    expect(parseTraceState('foo=,bar=3')).toBeUndefined();
    expect(parseTraceState('foo=a\u0001b')).toBeUndefined();
    expect(parseTraceState('foo=caf\u00e9')).toBeUndefined();
    expect(parseTraceState(`foo=${'x'.repeat(257)}`)).toBeUndefined();
    expect(parseTraceState(`foo=${'x'.repeat(256)}`)?.get('foo')).toHaveLength(256);
  });

  it('value: "All leading spaces MUST be preserved"; trailing spaces are optional whitespace', () => {
    expect(parseTraceState('foo=  1  ,bar=2')?.get('foo')).toBe('  1');
    expect(state('foo=  1  ,bar=2')).toBe('foo=  1,bar=2');
  });

  it('header: a CR or LF in the value discards it (no header injection)', () => {
    expect(parseTraceState('foo=1\r\nx-evil: 1')).toBeUndefined();
  });

  it('Combined Header Value: a duplicated key is dropped, the left-most (most recent) kept', () => {
    expect(state('foo=1,foo=2')).toBe('foo=1');
    expect(state(['foo=1', 'foo=2'])).toBe('foo=1');
  });

  it('Mutating tracestate: "Vendors receiving a tracestate request header MUST send it to outgoing requests", order preserved', () => {
    const header = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a@b=c';
    const sent = inRequest(() => {
      extractTraceContext({ traceparent: tp(), tracestate: header });
      return tracer.startActiveSpan('call', (span: Span) => {
        const out = inject().tracestate;
        span.end();
        return out;
      });
    });
    expect(sent).toBe(header);
  });

  it('Mutating tracestate: "Add a new key/value pair. SHOULD be added to the beginning"; "MUST NOT result in the same key being present multiple times"', () => {
    const s = parseTraceState('congo=1,rojo=2')!;
    expect(s.set('new', 'x').serialize()).toBe('new=x,congo=1,rojo=2');
    expect(s.set('rojo', '3').serialize()).toBe('rojo=3,congo=1');
    expect(s.serialize()).toBe('congo=1,rojo=2'); // immutable, as OpenTelemetry's TraceState
  });

  it('Mutating tracestate: "the order of unmodified key/value pairs MUST be preserved" (delete)', () => {
    expect(parseTraceState('a=1,b=2,c=3')!.unset('b').serialize()).toBe('a=1,c=3');
  });

  it('list: "If adding an entry would cause the list to contain more than 32 list-members the right-most list-member should be removed"', () => {
    const full = parseTraceState(Array.from({ length: 32 }, (_, i) => `k${i}=${i}`).join(','))!;
    const added = full.set('new', 'x');
    expect(added.get('new')).toBe('x');
    expect(added.get('k31')).toBeUndefined();
    expect(added.toArray()).toHaveLength(32);
  });

  it('set(): an invalid key or value leaves the state unchanged and is reported through diag', () => {
    const warn = vi.fn();
    diag.setLogger({ warn, error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
    try {
      const s = parseTraceState('a=1')!;
      expect(s.set('BAD', 'x')).toBe(s);
      expect(s.set('ok', 'a,b')).toBe(s);
      expect(warn).toHaveBeenCalledTimes(2);
    } finally {
      diag.disable();
    }
  });

  it('tracestate Limits: "Vendors SHOULD propagate at least 512 characters of a combined header"', () => {
    const entries = Array.from({ length: 7 }, (_, i) => `k${i}=${'v'.repeat(60)}`); // 7 × 63
    const within = [...entries, `k7=${'v'.repeat(61)}`].join(','); // + 64 + 7 commas
    expect(within).toHaveLength(512);
    expect(state(within)).toBe(within);
    expect(passOn({ traceparent: tp(), tracestate: within }).tracestate).toBe(within);
  });

  it('tracestate Limits: "the vendor MUST truncate whole entries. Entries larger than 128 characters long SHOULD be removed first. Then entries SHOULD be removed starting from the end"', () => {
    const big = `big=${'b'.repeat(200)}`; // 204 characters
    const small = (i: number) => `s${i}=${'v'.repeat(57)}`; // 60 characters
    // 204 + 6 × 60 + 6 commas = 570 > 512: dropping the big entry alone is enough.
    const header = [small(0), big, ...[1, 2, 3, 4, 5].map(small)].join(',');
    expect(state(header)).toBe([0, 1, 2, 3, 4, 5].map(small).join(','));
    // 10 × 60 + 9 = 609: no large entries, so from the end until it fits (8 × 60 + 7 = 487).
    const many = Array.from({ length: 10 }, (_, i) => small(i)).join(',');
    expect(state(many)).toBe(Array.from({ length: 8 }, (_, i) => small(i)).join(','));
    expect(state(many)!.length).toBeLessThanOrEqual(TRACESTATE_MAX_LENGTH);
    // Today's api createTraceState drops such a header whole; ours sends what fits.
    expect(passOn({ traceparent: tp(), tracestate: many }).tracestate).toBe(state(many));
  });

  it('serializeTraceState: another TraceState implementation is re-read, never trusted or thrown from', () => {
    const foreign = (serialize: () => string): TraceState => {
      const self: TraceState = {
        set: () => self,
        unset: () => self,
        get: () => undefined,
        serialize,
      };
      return self;
    };
    expect(serializeTraceState(foreign(() => 'a=1,b=2'))).toBe('a=1,b=2');
    expect(serializeTraceState(foreign(() => 'a=1\r\nx: y'))).toBeUndefined();
    const throwing = foreign(() => {
      throw new Error('boom');
    });
    expect(serializeTraceState(throwing)).toBeUndefined();
  });
});

describe('Baggage', () => {
  afterEach(() => diag.disable());

  it('"Multiple baggage headers are allowed"; they are combined, and limits apply to the combination', () => {
    expect(parseBaggage(['userId=alice', 'serverNode=DF%2028,isProduction=false'])).toEqual(
      new Map([
        ['userId', 'alice'],
        ['serverNode', 'DF 28'],
        ['isProduction', 'false'],
      ]),
    );
    const half = Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(',');
    const other = Array.from({ length: 40 }, (_, i) => `j${i}=v`).join(',');
    expect(parseBaggage([half, other]).size).toBe(64);
  });

  it('key: "A token"; "Leading and trailing whitespaces (OWS) are allowed" around keys and values', () => {
    expect(parseBaggage('userId =   alice , serverNode = DF%2028')).toEqual(
      new Map([
        ['userId', 'alice'],
        ['serverNode', 'DF 28'],
      ]),
    );
    expect(parseBaggage('bad key=1,"q"=2,k\u00e9=3,ok=4')).toEqual(new Map([['ok', '4']]));
  });

  it('value: "value MAY contain any number of the equal sign"; parsers "MUST NOT assume" otherwise', () => {
    expect(parseBaggage('k=a=b==c')).toEqual(new Map([['k', 'a=b==c']]));
    expect(formatBaggage([['k', 'a=b']])).toBe('k=a=b');
  });

  it('value: "Any code points outside of the baggage-octet range MUST be percent-encoded"; "The percent code point MUST be percent-encoded"', () => {
    expect(formatBaggage([['userId', 'Amélie']])).toBe('userId=Am%C3%A9lie');
    expect(formatBaggage([['k', 'a b,c;d"e\\f%g']])).toBe('k=a%20b%2Cc%3Bd%22e%5Cf%25g');
    // only what must be: baggage-octets go as they are, so nothing grows on the way through
    expect(formatBaggage([['k', "a:b/c?d@e!f'g(h)*i[j]"]])).toBe("k=a:b/c?d@e!f'g(h)*i[j]");
  });

  it('value: "percent-encoded octet sequences that do not match the UTF-8 encoding scheme MUST be replaced with the replacement code point (U+FFFD)"', () => {
    expect(parseBaggage('a=%FF,b=x%C3,c=%ED%A0%80,d=%C3%A9')).toEqual(
      new Map([
        ['a', '\uFFFD'],
        ['b', 'x\uFFFD'],
        ['c', '\uFFFD\uFFFD\uFFFD'],
        ['d', 'é'],
      ]),
    );
    expect(parseBaggage('a=100%,b=%zz')).toEqual(
      new Map([
        ['a', '100%'],
        ['b', '%zz'],
      ]),
    );
  });

  it('property: "Additional metadata MAY be appended to values"; it is kept, OWS removed', () => {
    const members = parseBaggageMembers('key1=value1;property1;property2, key3=value3; pk = pv');
    expect(members.get('key1')).toEqual({ value: 'value1', properties: 'property1;property2' });
    expect(members.get('key3')).toEqual({ value: 'value3', properties: 'pk=pv' });
    expect(formatBaggage(members)).toBe('key1=value1;property1;property2,key3=value3;pk=pv');
  });

  it('Limits: "A platform MUST propagate all list-members" when 64 or fewer and 8192 bytes or fewer, incoming', () => {
    // 64 members of 127 bytes + 63 commas = 8191 bytes, every value a worst case of % escapes
    const members = Array.from(
      { length: 64 },
      (_, i) => `k${String(i).padStart(2, '0')}=${'%C3%A9'.repeat(20)}${'x'.repeat(3)}`,
    );
    const header = members.join(',');
    expect(header.length).toBeLessThanOrEqual(8192);
    const parsed = parseBaggage(header);
    expect(parsed.size).toBe(64);
    expect(formatBaggage(parsed)).toBe(header);
  });

  it('Limits: 64 members and exactly 8192 bytes propagate whole, both ways', () => {
    const value = (i: number) => 'v'.repeat(i === 0 ? 124 : 123);
    const header = Array.from(
      { length: 64 },
      (_, i) => `k${String(i).padStart(2, '0')}=${value(i)}`,
    ).join(',');
    expect(header.length).toBe(8192);
    const parsed = parseBaggage(header);
    expect(parsed.size).toBe(64);
    expect(formatBaggage(parsed)).toBe(header);
    const out = passOn({ baggage: header });
    expect(out.baggage).toBe(header);
  });

  it('Limits: "If a platform cannot propagate all baggage, it MUST NOT propagate any partial list-members"', () => {
    const many = Array.from({ length: 80 }, (_, i) => [`k${i}`, `v${i}`] as [string, string]);
    const out = formatBaggage(many);
    expect(out.split(',')).toHaveLength(64);
    for (const member of out.split(',')) expect(member).toMatch(/^k(\d+)=v\1$/);
    const big = Array.from(
      { length: 9 },
      (_, i) => [`k${i}`, 'x'.repeat(1000)] as [string, string],
    );
    for (const member of formatBaggage(big).split(',')) expect(member).toMatch(/^k\d=x{1000}$/);
    const incoming = Array.from({ length: 9 }, (_, i) => `k${i}=${'x'.repeat(1000)}`).join(',');
    for (const v of parseBaggage(incoming).values()) expect(v).toBe('x'.repeat(1000));
  });

  it('inject never throws: a lone UTF-16 surrogate is sent as U+FFFD and reported through diag.warn', () => {
    const warn = vi.fn();
    diag.setLogger({ warn, error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
    expect(formatBaggage([['k', 'a\uD800b']])).toBe('k=a%EF%BF%BDb');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(parseBaggage(formatBaggage([['k', '\uDC00']])).get('k')).toBe('\uFFFD');
    // a well-formed pair is not a lone surrogate
    expect(formatBaggage([['k', '🚀']])).toBe('k=%F0%9F%9A%80');
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('inject never throws: vars holding lone surrogates or throwing toString, through injectTraceContext', () => {
    const surrogate = new ContextVar<string>('w3c.surrogate');
    const hostile = new ContextVar<unknown>('w3c.hostile');
    baggageVars({ 'w3c-surrogate': surrogate, 'w3c-hostile': hostile });
    const out = inRequest(() => {
      surrogate.set('\uDBFFx');
      hostile.set({
        toString() {
          throw new Error('no');
        },
      });
      const bag = propagation.createBaggage({ plain: { value: 'p\uDFFF' } });
      return context.with(propagation.setBaggage(context.active(), bag), () => inject());
    });
    expect(parseBaggage(out.baggage)).toEqual(
      new Map([
        ['plain', 'p\uFFFD'],
        ['w3c-surrogate', '\uFFFDx'],
      ]),
    );
  });
});

describe('hostile input: linear time, no Object.prototype writes', () => {
  const separators = (s: string) => s.repeat(100_000 / s.length);
  const random = (n: number) => {
    let seed = 42;
    return Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return String.fromCharCode(seed & 0xff);
    }).join('');
  };
  const inputs = [
    separators(','),
    separators(' '),
    separators('\t,'),
    separators(';'),
    separators('='),
    separators('%'),
    separators('a=1;'),
    separators('k=%FF'),
    separators('@'),
    `a=${' '.repeat(100_000)}x`,
    `${' '.repeat(100_000)}x`,
    random(10_000),
  ];

  it.each(inputs.map((input, i) => [i, input]))('input %i is read in linear time', (_i, input) => {
    const started = performance.now();
    for (const parse of [parseTraceParent, parseTraceState, parseBaggage]) {
      expect(() => parse(input)).not.toThrow();
      expect(() => parse([input, input])).not.toThrow();
    }
    passOn({ traceparent: input, tracestate: input, baggage: input });
    passOn({ traceparent: tp(), tracestate: input, baggage: [input, input] });
    // Quadratic work on 100 KB is billions of steps; linear is well under a second.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never touches Object.prototype', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const parsed = parseBaggage('__proto__=1,constructor=2,toString=3,hasOwnProperty=4');
    expect(parsed.get('__proto__')).toBe('1');
    parseTraceState('__proto__=1');
    passOn({
      traceparent: tp(),
      tracestate: 'a=1',
      baggage: '__proto__=%7B%22polluted%22%3A1%7D,constructor=x',
    });
    formatBaggage([['__proto__', 'x']]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('extract ignores carriers that are not objects and header values of other types', () => {
    for (const headers of [null, undefined, 42, 'x']) {
      expect(() => inRequest(() => extractTraceContext(headers as never))).not.toThrow();
    }
    const out = passOn({ traceparent: 42, tracestate: {}, baggage: [1, 'a=1'] } as never);
    expect(out).toEqual({ baggage: 'a=1' });
  });
});

describe('what OpenTelemetry sees', () => {
  it("the remote parent carries our TraceState, whose methods follow OpenTelemetry's TraceState contract", () => {
    const ctx: OtelContext = inRequest(() =>
      extractTraceContext({ traceparent: tp('03'), tracestate: 'b@x=1,a=2' }),
    );
    const sc = trace.getSpanContext(ctx)!;
    expect(sc).toMatchObject({ traceId: TRACE, spanId: PARENT, traceFlags: 3, isRemote: true });
    expect(sc.traceState?.get('b@x')).toBe('1');
    expect(sc.traceState?.set('c', '3').serialize()).toBe('c=3,b@x=1,a=2');
  });
});
