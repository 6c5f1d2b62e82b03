import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, FRAMEWORKS } from '../support/apps.js';
import {
  close,
  HOSTILE_REQUEST_IDS,
  listen,
  RAW_HOSTILE_REQUEST_IDS,
  rawRequest,
  send,
  watchUncaught,
} from '../support/http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/** Trace headers that must be ignored without harm: [why, headers]. */
const HOSTILE_TRACE_HEADERS: Array<[string, Record<string, string | string[]>]> = [
  ['traceparent with version ff', { traceparent: `ff-${TRACE}-${SPAN}-01` }],
  ['traceparent with zero ids', { traceparent: `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01` }],
  ['traceparent in upper case', { traceparent: `00-${TRACE.toUpperCase()}-${SPAN}-01` }],
  ['traceparent too long', { traceparent: `00-${TRACE}-${SPAN}-01-${'a'.repeat(8000)}` }],
  ['traceparent twice', { traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-00`] }],
  ['traceparent with a log-forging payload', { traceparent: '00-"},"level":60,"x":"-00' }],
  ['tracestate garbage', { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: '===,,,;;;' }],
  [
    'tracestate oversized',
    { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: `a=${'b'.repeat(9000)}` },
  ],
  ['tracestate twice', { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: ['a=1', 'b=2'] }],
  ['baggage malformed', { baggage: '%%%,=,;;;,k=%E0%A4%A' }],
  [
    'baggage oversized',
    { baggage: Array.from({ length: 200 }, (_, i) => `k${i}=${'v'.repeat(60)}`).join(',') },
  ],
  ['baggage twice', { baggage: ['a=1', 'b=2'] }],
  ['baggage injection', { baggage: 'value="},{"level":60' }],
];

describe.each(FRAMEWORKS)('%s: hostile and malformed input', (framework) => {
  const lines: string[] = [];
  let base: string;
  let server: Awaited<ReturnType<typeof createApp>>;
  let uncaught: ReturnType<typeof watchUncaught>;
  beforeAll(async () => {
    uncaught = watchUncaught();
    server = await createApp(framework, { log: (line) => lines.push(line) });
    base = await listen(server);
  });
  afterAll(async () => {
    uncaught.stop();
    await close(server);
  });

  it.each(HOSTILE_REQUEST_IDS)(
    'request id %s: a 2xx, a safe generated id, the raw value never echoed',
    async (_why, hostile) => {
      const res = await send(`${base}/sync`, { headers: { 'x-request-id': hostile } });
      expect(res.status).toBe(200);
      expect(res.json().id).toMatch(UUID);
      expect(res.headers['x-request-id']).toBe(res.json().id);
    },
  );

  it.each(RAW_HOSTILE_REQUEST_IDS)(
    'request id %s (raw bytes): a clean 2xx or 4xx, nothing injected',
    async (_why, hostile) => {
      const raw = await rawRequest(
        base,
        `GET /sync HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${hostile}\r\nConnection: close\r\n\r\n`,
      );
      expect([200, 400]).toContain(Number(raw.slice(9, 12)));
      expect(raw).not.toContain(hostile);
      expect(raw.toLowerCase()).not.toContain('set-cookie');
    },
  );

  it('a repeated request id header is replaced, and one id goes back', async () => {
    const raw = await rawRequest(
      base,
      'GET /sync HTTP/1.1\r\nHost: x\r\nX-Request-Id: one\r\nX-Request-Id: two\r\nConnection: close\r\n\r\n',
    );
    const ids = raw.match(/^x-request-id: (.*)\r$/gim) ?? [];
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/x-request-id: [0-9a-f-]{36}\r$/i);
  });

  it.each(HOSTILE_TRACE_HEADERS)(
    '%s: ignored, the request served, no remote trace adopted',
    async (_why, headers) => {
      const res = await send(`${base}/work`, {
        headers: { ...headers, 'x-value': 'v' } as Record<string, string | string[]>,
      });
      expect([200, 431]).toContain(res.status);
      if (res.status === 200) expect(res.json().value).toBe('v');
    },
  );

  it('every log line is valid JSON with a safe request id, and nothing escaped to the process', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const parsed = JSON.parse(line);
      if (parsed.request_id !== undefined)
        expect(parsed.request_id).toMatch(/^[A-Za-z0-9._:@/+=-]{1,128}$/);
      expect(parsed.level).toBeLessThan(60);
    }
    expect(uncaught.count).toBe(0);
  });
});
