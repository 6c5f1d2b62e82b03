import { Context, ContextVar, requestId } from '@contextvars/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CarryEncodeError,
  type CarryError,
  type CarryRecord,
  CarryRecordError,
  defineCarrier,
  MAX_RECORD_BYTES,
} from '../src/index.js';

interface User {
  id: number;
  roles: string[];
}

const tenant = new ContextVar<string>('tenant');
const attempt = new ContextVar<number>('attempt');
const admin = new ContextVar<boolean>('admin');
const user = new ContextVar<User>('user');
const since = new ContextVar<Date>('since');
const secret = new ContextVar<string>('secret');

function carrierWith(reports: CarryError[] = []) {
  return defineCarrier({
    vars: {
      tenant: { var: tenant, codec: 'string' },
      attempt: { var: attempt, codec: 'number' },
      admin: { var: admin, codec: 'boolean' },
      user: { var: user, codec: 'json' },
      since: {
        var: since,
        codec: {
          encode: (d) => d.toISOString(),
          decode: (s) => {
            if (typeof s !== 'string') throw new TypeError('not a date');
            return new Date(s);
          },
        },
      },
    },
    onInvalid: (err) => reports.push(err),
  });
}

/** Runs `fn` in a fresh Context with the given values set, as a request would. */
function inRequest<R>(values: { id?: string; tenant?: string; user?: User }, fn: () => R): R {
  return new Context().run(() => {
    if (values.id !== undefined) requestId.set(values.id);
    if (values.tenant !== undefined) tenant.set(values.tenant);
    if (values.user !== undefined) user.set(values.user);
    secret.set('hunter2');
    return fn();
  });
}

const seen = () => ({
  tenant: tenant.get(undefined),
  attempt: attempt.get(undefined),
  admin: admin.get(undefined),
  user: user.get(undefined),
  since: since.get(undefined),
  requestId: requestId.get(undefined),
  secret: secret.get(undefined),
});

describe('inject and run', () => {
  it('round-trips every codec, the request id, and nothing undeclared', () => {
    const carrier = carrierWith();
    const record = new Context().run(() => {
      requestId.set('req-1');
      tenant.set('acme');
      attempt.set(3);
      admin.set(false);
      user.set({ id: 7, roles: ['a', 'b'] });
      since.set(new Date('2026-01-02T03:04:05.000Z'));
      secret.set('hunter2');
      return carrier.inject();
    });
    expect(record).toEqual({
      v: 1,
      requestId: 'req-1',
      vars: {
        tenant: 'acme',
        attempt: 3,
        admin: false,
        user: { id: 7, roles: ['a', 'b'] },
        since: '2026-01-02T03:04:05.000Z',
      },
    });
    expect(JSON.stringify(record)).not.toContain('hunter2');
    // Through JSON, as a queue stores it, and as the object a structured clone gives.
    for (const form of [JSON.stringify(record), structuredClone(record)]) {
      const got = carrier.run(form, seen);
      expect(got).toEqual({
        tenant: 'acme',
        attempt: 3,
        admin: false,
        user: { id: 7, roles: ['a', 'b'] },
        since: new Date('2026-01-02T03:04:05.000Z'),
        requestId: 'req-1',
        secret: undefined,
      });
    }
  });

  it('runs in a fresh Context: nothing of the consumer’s leaks in, nothing leaks out', () => {
    const carrier = carrierWith();
    const record = inRequest({ tenant: 'acme' }, () => carrier.inject());
    new Context().run(() => {
      attempt.set(99);
      requestId.set('consumer');
      carrier.run(record, () => {
        expect(attempt.get(undefined)).toBeUndefined();
        expect(requestId.get(undefined)).toBeUndefined();
        tenant.set('changed');
      });
      expect(tenant.get(undefined)).toBeUndefined();
      expect(attempt.get()).toBe(99);
    });
  });

  it('keeps async continuations of the work in the restored Context', async () => {
    const carrier = carrierWith();
    const record = inRequest({ id: 'r-async', tenant: 'globex' }, () => carrier.inject());
    const got = await carrier.run(record, async () => {
      await new Promise((r) => setTimeout(r, 5));
      await Promise.resolve();
      return [tenant.get(), requestId.get()];
    });
    expect(got).toEqual(['globex', 'r-async']);
  });

  it('carries nothing from outside any request, and still runs', () => {
    const carrier = carrierWith();
    const record = new Context().run(() => carrier.inject());
    expect(record).toEqual({ v: 1, vars: {} });
    expect(carrier.run(record, seen)).toMatchObject({ tenant: undefined, requestId: undefined });
  });

  it('leaves the request id out when it is not declared', () => {
    const carrier = defineCarrier({
      vars: { tenant: { var: tenant, codec: 'string' } },
      requestId: false,
    });
    const record = inRequest({ id: 'r', tenant: 't' }, () => carrier.inject());
    expect(record).toEqual({ v: 1, vars: { tenant: 't' } });
    const forged = { ...record, requestId: 'forged' };
    expect(carrier.run(forged, () => requestId.get(undefined))).toBeUndefined();
  });

  it('wraps and unwraps payloads for postMessage and workerData', () => {
    const carrier = carrierWith();
    const message = inRequest({ id: 'w-1', tenant: 'initech' }, () => carrier.wrap({ n: 1 }));
    expect(message).toEqual({
      carry: { v: 1, requestId: 'w-1', vars: { tenant: 'initech' } },
      payload: { n: 1 },
    });
    const listener = carrier.handler((task: { n: number }) => [
      task.n,
      tenant.get(),
      requestId.get(),
    ]);
    expect(listener(structuredClone(message))).toEqual([1, 'initech', 'w-1']);
  });
});

describe('inject never throws', () => {
  it('leaves out a value its codec refuses and reports it; the others travel', () => {
    const reports: CarryError[] = [];
    const carrier = carrierWith(reports);
    const cyclic: any = { id: 1, roles: [] };
    cyclic.self = cyclic;
    const record = new Context().run(() => {
      tenant.set(42 as unknown as string);
      attempt.set(Number.NaN);
      user.set(cyclic);
      admin.set(true);
      since.set('not a date' as unknown as Date);
      return carrier.inject();
    });
    expect(record).toEqual({ v: 1, vars: { admin: true } });
    expect(reports.map((e) => [e.code, (e as CarryEncodeError).key])).toEqual([
      ['ERR_CARRY_ENCODE', 'tenant'],
      ['ERR_CARRY_ENCODE', 'attempt'],
      ['ERR_CARRY_ENCODE', 'user'],
      ['ERR_CARRY_ENCODE', 'since'],
    ]);
    expect(reports[0]).toBeInstanceOf(CarryEncodeError);
  });

  it('refuses json values that are not plain JSON (class instances, undefined, functions, symbols)', () => {
    const reports: CarryError[] = [];
    const carrier = carrierWith(reports);
    for (const bad of [
      new Map(),
      { a: undefined },
      { f() {} },
      { [Symbol('s')]: 1 },
      Object.assign(new Array(3), { 0: 1, 2: 3 }),
    ]) {
      const record = new Context().run(() => {
        user.set(bad as unknown as User);
        return carrier.inject();
      });
      expect(record.vars).toEqual({});
    }
    expect(reports).toHaveLength(5);
  });

  it('drops whole vars that would take the record over 8,192 bytes', () => {
    const reports: CarryError[] = [];
    const big = new ContextVar<string>('big');
    const small = new ContextVar<string>('small');
    const carrier = defineCarrier({
      vars: { big: { var: big, codec: 'string' }, small: { var: small, codec: 'string' } },
      onInvalid: (e) => reports.push(e),
    });
    const record = new Context().run(() => {
      big.set('é'.repeat(4090)); // 8,180 bytes in UTF-8: over the limit with the rest
      small.set('ok');
      return carrier.inject();
    });
    expect(record.vars).toEqual({ small: 'ok' });
    expect(reports.map((e) => (e as CarryEncodeError).key)).toEqual(['big']);
    // Exactly at the limit still travels.
    const room = MAX_RECORD_BYTES - JSON.stringify({ v: 1, vars: { big: '' } }).length;
    const exact = new Context().run(() => {
      big.set('x'.repeat(room));
      return carrier.inject();
    });
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(MAX_RECORD_BYTES);
    expect(carrier.restore(exact).get(big)).toHaveLength(room);
    expect(carrier.restore(JSON.stringify(exact)).get(big)).toHaveLength(room);
  });

  it('never reads a trace hook that throws into the record', () => {
    const carrier = defineCarrier({
      vars: {},
      trace: {
        inject: () => {
          throw new Error('boom');
        },
        run: (_h, fn) => fn(),
      },
    });
    expect(carrier.inject()).toEqual({ v: 1, vars: {} });
  });
});

describe('bad records restore nothing and never crash the consumer', () => {
  const good = (): CarryRecord => ({
    v: 1,
    requestId: 'r-1',
    vars: { tenant: 'acme', attempt: 1 },
  });
  const cases: Array<[string, unknown, string]> = [
    ['undefined', undefined, 'malformed'],
    ['null', null, 'malformed'],
    ['a number', 42, 'malformed'],
    ['an array', [1, 2], 'malformed'],
    ['not JSON text', '{"v":1,', 'malformed'],
    ['JSON text of a string', '"hello"', 'malformed'],
    ['no version', { vars: {} }, 'malformed'],
    ['version 2', { ...good(), v: 2 }, 'version'],
    ['version "1"', { ...good(), v: '1' }, 'version'],
    ['version 2 as text', JSON.stringify({ ...good(), v: 2 }), 'version'],
    ['no vars', { v: 1 }, 'malformed'],
    ['vars an array', { v: 1, vars: ['acme'] }, 'malformed'],
    ['an unknown field', { ...good(), extra: 1 }, 'tampered'],
    ['a string var holding a number', { ...good(), vars: { tenant: 1 } }, 'tampered'],
    ['a number var holding a string', { ...good(), vars: { attempt: '1' } }, 'tampered'],
    [
      'a json var holding a nested __proto__',
      JSON.parse('{"v":1,"vars":{"user":{"a":{"__proto__":{"admin":true}}}}}'),
      'tampered',
    ],
    [
      'a json var with __proto__, as text',
      '{"v":1,"vars":{"user":{"__proto__":{"polluted":true}}}}',
      'tampered',
    ],
    ['a var named __proto__', '{"v":1,"vars":{"__proto__":"x"}}', 'tampered'],
    ['a var named constructor', { v: 1, vars: { constructor: 'x' } }, 'tampered'],
    ['a top-level __proto__', '{"v":1,"vars":{},"__proto__":{"polluted":true}}', 'tampered'],
    ['a custom codec refusing', { v: 1, vars: { since: 12 } }, 'tampered'],
    ['a forged request id', { ...good(), requestId: 'a\nb' }, 'tampered'],
    ['a request id too long', { ...good(), requestId: 'a'.repeat(129) }, 'tampered'],
    ['a request id not a string', { ...good(), requestId: 5 }, 'tampered'],
    ['a malformed traceparent', { ...good(), trace: { traceparent: 'nope' } }, 'tampered'],
    [
      'a trace with extra fields',
      {
        ...good(),
        trace: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, baggage: 'x=1' },
      },
      'tampered',
    ],
    [
      'a tracestate over 512',
      {
        ...good(),
        trace: {
          traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
          tracestate: `k=${'v'.repeat(512)}`,
        },
      },
      'tampered',
    ],
    [
      'over 8,192 bytes as text',
      JSON.stringify({ v: 1, vars: { tenant: 'x'.repeat(8200) } }),
      'oversized',
    ],
    ['over 8,192 bytes as an object', { v: 1, vars: { tenant: 'x'.repeat(8200) } }, 'oversized'],
    [
      'huge as an object (never serialized whole)',
      { v: 1, vars: { user: Array.from({ length: 1e6 }, () => 'x') } },
      'oversized',
    ],
    [
      'over 8,192 bytes in UTF-8 only',
      JSON.stringify({ v: 1, vars: { tenant: '€'.repeat(3000) } }),
      'oversized',
    ],
    [
      'over 64 vars',
      { v: 1, vars: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 1])) },
      'oversized',
    ],
    [
      'nested 1,000 deep',
      { v: 1, vars: { user: JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`) } },
      'malformed',
    ],
    [
      'a class instance',
      new (class Record {
        v = 1;
        vars = {};
      })(),
      'malformed',
    ],
    [
      'a getter',
      {
        v: 1,
        get vars() {
          throw new Error('trap');
        },
      },
      'malformed',
    ],
  ];
  const cyclic: any = { v: 1, vars: {} };
  cyclic.vars.self = cyclic;
  cases.push(['cyclic', cyclic, 'malformed']);

  it.each(cases)('%s', (_name, record, reason) => {
    const reports: CarryError[] = [];
    const carrier = carrierWith(reports);
    const got = new Context().run(() => {
      tenant.set('consumer-own');
      return carrier.run(record, seen);
    });
    // Nothing restored, nothing of the consumer's either, and the work ran.
    expect(got).toEqual({
      tenant: undefined,
      attempt: undefined,
      admin: undefined,
      user: undefined,
      since: undefined,
      requestId: undefined,
      secret: undefined,
    });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(CarryRecordError);
    expect(reports[0]).toMatchObject({ code: 'ERR_CARRY_RECORD', reason });
    expect(() => carrier.restore(record)).toThrow(CarryRecordError);
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).admin).toBeUndefined();
  });

  it('ignores vars it does not declare (a newer sender), restoring the rest', () => {
    const reports: CarryError[] = [];
    const carrier = carrierWith(reports);
    const got = carrier.run({ v: 1, vars: { tenant: 'acme', flavour: 'new' } }, seen);
    expect(got.tenant).toBe('acme');
    expect(reports).toEqual([]);
  });

  it('lets the app refuse the work by throwing from onInvalid', () => {
    const carrier = defineCarrier({
      vars: {},
      onInvalid: (err) => {
        throw err;
      },
    });
    let ran = false;
    expect(() =>
      carrier.run('garbage', () => {
        ran = true;
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CARRY_RECORD', reason: 'malformed' }));
    expect(ran).toBe(false);
  });

  it('warns by default', async () => {
    const carrier = defineCarrier({ vars: {} });
    const warning = new Promise<Error & { code?: string }>((resolve) =>
      process.once('warning', resolve),
    );
    carrier.run('garbage', () => {});
    expect(await warning).toMatchObject({ name: 'CarryRecordError', code: 'ERR_CARRY_RECORD' });
  });

  it('never throws on arbitrary JSON or arbitrary values (property)', () => {
    const carrier = carrierWith([]);
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (value) => {
        const got = carrier.run(value, () => 'ran');
        expect(got).toBe('ran');
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(carrier.run(text, () => 'ran')).toBe('ran');
      }),
      { numRuns: 300 },
    );
  });

  it('restores any record it made (property)', () => {
    const carrier = carrierWith([]);
    fc.assert(
      fc.property(
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.record({ id: fc.integer(), roles: fc.array(fc.string()) }),
        (t, n, u) => {
          const record = new Context().run(() => {
            tenant.set(t);
            attempt.set(n);
            user.set(u);
            return carrier.inject();
          });
          const got = carrier.run(JSON.parse(JSON.stringify(record)), seen);
          expect(got.tenant).toBe(t);
          expect(Object.is(got.attempt, n === 0 ? 0 : n) || got.attempt === n).toBe(true);
          expect(got.user).toEqual(u);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('declarations', () => {
  it('refuses a declaration it cannot honour', () => {
    const bad = [
      null,
      { vars: null },
      { vars: { t: tenant } },
      { vars: { t: { var: tenant, codec: 'date' } } },
      { vars: { t: { var: {}, codec: 'string' } } },
      { vars: { __proto__x: 1 } },
      { vars: JSON.parse('{"__proto__":{"var":null,"codec":"string"}}') },
      { vars: {}, trace: {} },
      { vars: {}, onInvalid: 'log' },
      {
        vars: Object.fromEntries(
          Array.from({ length: 65 }, (_, i) => [`v${i}`, { var: tenant, codec: 'string' }]),
        ),
      },
    ];
    for (const options of bad) {
      expect(() => defineCarrier(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
    }
  });
});
