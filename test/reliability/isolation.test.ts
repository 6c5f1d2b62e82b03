import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, FRAMEWORKS } from '../support/apps.js';
import { close, listen, send } from '../support/http.js';

const TOTAL = 5000;
const CONNECTIONS = 200;
const figures: string[] = [];
afterAll(() => {
  console.log(`isolation under load:\n  ${figures.join('\n  ')}`);
});

describe.each(FRAMEWORKS)('%s: isolation under load', (framework) => {
  it(`${TOTAL} requests at ${CONNECTIONS} concurrent connections: no response and no log line has another request's values, none lacks them`, async () => {
    const lines: string[] = [];
    const server = await createApp(framework, { log: (line) => lines.push(line) });
    const base = await listen(server);
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const expected = new Map<string, string>();
    let next = 0;
    let wrong = 0;
    let missing = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const id = `r${i}`;
        const value = `v${i}-${randomUUID()}`;
        expected.set(id, value);
        const post = i % 2 === 1;
        const res = await send(`${base}/work`, {
          method: post ? 'POST' : 'GET',
          headers: {
            'x-request-id': id,
            'x-value': value,
            ...(post ? { 'content-type': 'application/json' } : {}),
          },
          body: post ? JSON.stringify({ i, pad: 'x'.repeat(512) }) : undefined,
          agent,
        });
        const body = res.json();
        if (body.id === undefined || body.value === undefined) missing++;
        else if (body.id !== id || body.value !== value) wrong++;
      }
    };
    try {
      await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    } finally {
      agent.destroy();
      await close(server);
    }
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'work done');
    let wrongLines = 0;
    let bareLines = 0;
    for (const l of logged) {
      if (l.request_id === undefined || l.value === undefined) bareLines++;
      else if (expected.get(l.request_id) !== l.value || l.id !== l.request_id) wrongLines++;
    }
    figures.push(
      `${framework}: ${TOTAL} requests, ${wrong} with another's values, ${missing} with none; ${logged.length} log lines, ${wrongLines} wrong, ${bareLines} without ids`,
    );
    expect({ wrong, missing, wrongLines, bareLines, lines: logged.length }).toEqual({
      wrong: 0,
      missing: 0,
      wrongLines: 0,
      bareLines: 0,
      lines: TOTAL,
    });
  });
});
