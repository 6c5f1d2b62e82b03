/**
 * The real-SDK suite: NodeSDK with the bridge's context manager and the
 * auto-instrumentations a user adds (http, undici, the framework's, pino), for
 * Fastify, Express and Koa, as a CommonJS app and as an ESM app with the setup
 * preloaded as CommonJS; the same CommonJS app under the SDK's default manager is
 * the control. Each app is a child process on the built packages; assertions are
 * on what users' tools see: exported spans, raw log lines, outgoing headers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, listen, send } from '../support/http.js';
import { duplicateKeysInLines } from './duplicate-keys.js';

const here = dirname(fileURLToPath(import.meta.url));
const CONCURRENT = 200;
const TRACE = (n: number) => `${(n + 1).toString(16).padStart(8, '0')}${'c'.repeat(24)}`;
const PARENT = (n: number) => `${(n + 1).toString(16).padStart(8, '0')}${'d'.repeat(8)}`;

interface SpanRecord {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  parentRemote: boolean | null;
  parentAtStart?: string | null;
  parentState?: 'open' | 'ended' | 'remote' | null;
}
interface Point {
  at: string;
  tag: string;
  rid: string | null;
  spanId: string | null;
  traceId: string | null;
  name: string | null;
  state: 'open' | 'ended' | 'remote' | null;
}
interface Run {
  spans: SpanRecord[];
  points: Point[];
  rawLogs: string;
  downstream: Map<string, { traceparent?: string; baggage?: string }>;
  bodies: Map<string, any>;
  stderr: string;
}

type Kind = 'cjs' | 'esm' | 'control';

const readLines = <T>(file: string): T[] => {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {}
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
};

/** Starts the app, sends one traced request per tag plus an error, ends it, and reads what it wrote. */
async function runApp(line: string, framework: string, kind: Kind): Promise<Run> {
  const appDir = join(here, line, '.app');
  const out = mkdtempSync(join(tmpdir(), `otel-sdk-${line}-${framework}-${kind}-`));
  const downstream = new Map<string, { traceparent?: string; baggage?: string }>();
  const down: Server = createServer((req, res) => {
    const tag = new URL(req.url ?? '/', 'http://x').searchParams.get('tag') ?? '';
    downstream.set(tag, {
      traceparent: req.headers.traceparent as string | undefined,
      baggage: req.headers.baggage as string | undefined,
    });
    res.end('ok');
  });
  const downBase = await listen(down);
  const args = ['--require', './otel.cjs'];
  if (kind === 'esm') args.push('--import', './hook.mjs', 'app.mjs');
  else args.push('app.cjs');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: appDir,
    env: {
      ...process.env,
      FRAMEWORK: framework,
      CONTEXT_MANAGER: kind === 'control' ? 'default' : 'contextvars',
      SPANS_FILE: join(out, 'spans.jsonl'),
      POINTS_FILE: join(out, 'points.jsonl'),
      LOGS_FILE: join(out, 'logs.jsonl'),
      DOWNSTREAM: downBase,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const bodies = new Map<string, any>();
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app did not start: ${stderr}`)), 15_000);
      child.stdout!.once('data', (d) => {
        clearTimeout(timer);
        resolve(JSON.parse(String(d)).port);
      });
      child.once('exit', () => reject(new Error(`app exited: ${stderr}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const boom = await send(`${base}/boom?tag=boom`, { headers: { 'x-request-id': 'r-boom' } });
    bodies.set('boom', { status: boom.status });
    await Promise.all(
      Array.from({ length: CONCURRENT }, async (_, n) => {
        const res = await send(`${base}/work?tag=${n}`, {
          headers: {
            'x-request-id': `r-${n}`,
            traceparent: `00-${TRACE(n)}-${PARENT(n)}-01`,
            baggage: `tenant=t${n}`,
          },
          timeoutMs: 15_000,
        });
        bodies.set(String(n), res.status === 200 ? res.json() : { status: res.status });
      }),
    );
    // Timers started in a hook fire 30 ms later; 'finish' listeners right after the response.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    await close(down);
  }
  const run: Run = {
    spans: readLines<SpanRecord>(join(out, 'spans.jsonl')),
    points: readLines<Point>(join(out, 'points.jsonl')),
    rawLogs: (() => {
      try {
        return readFileSync(join(out, 'logs.jsonl'), 'utf8');
      } catch {
        return '';
      }
    })(),
    downstream,
    bodies,
    stderr,
  };
  rmSync(out, { recursive: true, force: true });
  return run;
}

const LATE = ['onResponse', 'finish', 'errorHandler'];
const OWN_HOOK_SPAN = /contextvarsOnRequest|contextvarsMiddleware/;
const FRAMEWORKS = ['fastify', 'express', 'koa'] as const;

/** Registers the suite of one OpenTelemetry line (`test/otel-sdk/<line>`). */
export function otelSdkSuite(line: 'current' | 'previous'): void {
  beforeAll(() => {
    // The apps resolve the line's packages from where they run: a copy in the line's folder.
    const target = join(here, line, '.app');
    rmSync(target, { recursive: true, force: true });
    cpSync(join(here, 'apps'), target, { recursive: true });
  });

  describe.each(FRAMEWORKS)(`${line} OpenTelemetry line, %s`, (framework) => {
    const runs = {} as Record<Kind, Run>;
    beforeAll(async () => {
      const [cjs, esm, control] = await Promise.all(
        (['cjs', 'esm', 'control'] as const).map((k) => runApp(line, framework, k)),
      );
      Object.assign(runs, { cjs, esm, control });
    }, 60_000);
    afterAll(() => {});

    /** What the control (the SDK's default manager) shows at each point: OpenTelemetry's own model. */
    const controlAt = (at: string) =>
      new Set(runs.control.points.filter((p) => p.at === at).map((p) => `${p.name}`));

    describe.each(['cjs', 'esm'] as const)('%s app', (kind) => {
      it('answers every request; its body sees its own request id, trace and incoming baggage', () => {
        const run = runs[kind];
        expect(run.bodies.get('boom')).toEqual({ status: 500 });
        for (let n = 0; n < CONCURRENT; n++) {
          expect(run.bodies.get(String(n)), run.stderr).toEqual({
            tag: String(n),
            rid: `r-${n}`,
            tenant: `t${n}`,
            traceId: TRACE(n),
          });
        }
      });

      it('outgoing fetch carries the request’s trace and baggage (incoming var and one set in the handler)', () => {
        const run = runs[kind];
        for (let n = 0; n < CONCURRENT; n++) {
          const got = run.downstream.get(String(n));
          expect(got?.traceparent?.split('-')[1]).toBe(TRACE(n));
          const members = new Set((got?.baggage ?? '').split(',').map((m) => m.trim()));
          expect(members).toContain(`user=u-${n}`);
          expect(members).toContain(`tenant=t${n}`);
        }
      });

      it('span tree: every parent is exported or the remote parent, and was open when the child started', () => {
        const { spans } = runs[kind];
        const ids = new Set(spans.map((s) => s.spanId));
        // Where the control itself starts a span under an ended one (a timer started in
        // a hook that ended before it fired), that is OpenTelemetry's model, not ours.
        const endedInControl = new Set(
          runs.control.spans.filter((s) => s.parentState === 'ended').map((s) => s.name),
        );
        const problems: string[] = [];
        for (const s of spans) {
          if (s.parentSpanId === null) continue;
          if (!ids.has(s.parentSpanId) && s.parentRemote !== true)
            problems.push(`${s.name}: parent not exported`);
          if (s.parentState === 'ended' && !endedInControl.has(s.name))
            problems.push(
              `${s.name}: parent ${spans.find((x) => x.spanId === s.parentAtStart)?.name} had ended when it started`,
            );
        }
        expect([...new Set(problems)]).toEqual([]);
        for (let n = 0; n < CONCURRENT; n++) {
          const server = spans.find((s) => s.traceId === TRACE(n) && s.parentRemote === true);
          expect(server?.parentSpanId).toBe(PARENT(n));
        }
      });

      it('late hooks, finish listeners and error handlers see the span OpenTelemetry’s model gives, still open', () => {
        const { points } = runs[kind];
        const problems: string[] = [];
        for (const p of points) {
          if (p.name !== null && OWN_HOOK_SPAN.test(p.name))
            problems.push(`${p.at}: sees our adapter's own hook span ${p.name} (${p.state})`);
          if (LATE.includes(p.at)) {
            const expected = controlAt(p.at);
            if (!expected.has(`${p.name}`))
              problems.push(`${p.at}: sees ${p.name}, the default manager ${[...expected]}`);
            const controlState = runs.control.points.find((c) => c.at === p.at)?.state;
            if (p.state !== controlState)
              problems.push(`${p.at}: span ${p.state}, with the default manager ${controlState}`);
          }
          if (p.at.startsWith('timer-') && !controlAt(p.at).has(`${p.name}`))
            problems.push(`${p.at}: sees ${p.name}, the default manager ${[...controlAt(p.at)]}`);
        }
        expect([...new Set(problems)]).toEqual([]);
        const lateSeen = new Set(points.map((p) => p.at));
        for (const at of framework === 'fastify' ? LATE : ['finish', 'errorHandler'])
          expect(lateSeen).toContain(at);
      });

      it('200 concurrent requests: every point sees its own request id and trace', () => {
        const wrong = runs[kind].points.filter(
          (p) => p.tag !== 'boom' && (p.rid !== `r-${p.tag}` || p.traceId !== TRACE(Number(p.tag))),
        );
        expect(wrong.slice(0, 5)).toEqual([]);
      });

      it('log lines: trace_id/span_id are the active span’s at the call; the request id is the request’s', () => {
        const run = runs[kind];
        const byKey = new Map(run.points.map((p) => [`${p.at}|${p.tag}`, p]));
        const problems: string[] = [];
        let matched = 0;
        for (const raw of run.rawLogs.split('\n')) {
          if (raw === '') continue;
          const line = JSON.parse(raw);
          const [via, tag] = String(line.msg).split('|');
          const p = byKey.get(`log:${via}|${tag}`);
          if (p === undefined || tag === undefined) continue;
          matched++;
          if (line.trace_id !== p.traceId || line.span_id !== p.spanId)
            problems.push(`${via}: logged another span than the active one (${p.name})`);
          if (tag !== 'boom' && line.request_id !== `r-${tag}`)
            problems.push(`${via}: request_id of another request`);
        }
        expect(matched).toBeGreaterThan(CONCURRENT * 4);
        expect([...new Set(problems)].slice(0, 10)).toEqual([]);
      });

      it('no log line carries a key twice (raw text)', () => {
        const dups = duplicateKeysInLines(runs[kind].rawLogs);
        expect(dups.slice(0, 3)).toEqual([]);
      });

      if (framework !== 'koa') {
        it('the framework’s own request lines carry the request id (and no key twice)', () => {
          const lines = runs[kind].rawLogs
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l));
          const own = lines.filter((l) =>
            ['incoming request', 'request completed', 'request errored'].includes(l.msg),
          );
          const expected = framework === 'fastify' ? 2 * (CONCURRENT + 1) : CONCURRENT + 1;
          expect(own).toHaveLength(expected);
          for (const l of own) expect(l.request_id).toMatch(/^r-(\d+|boom)$/);
        });
      }
    });
  });
}
