// The middleware on other runtimes, by hand (not in CI): `pnpm run build`, then
//   bun packages/hono/test/other-runtimes.mjs
//   deno run -A packages/hono/test/other-runtimes.mjs
//   node packages/hono/test/other-runtimes.mjs
// 200 concurrent requests, app.onError and stream() through app.fetch and behind the
// runtime's own server (Bun.serve, Deno.serve); prints what it saw, exits 1 on a mismatch.
// Built files by path: Deno resolves no bare specifiers without an import map.
const here = new URL('..', import.meta.url).pathname;
const { Hono } = await import(`${here}node_modules/hono/dist/index.js`);
const { stream } = await import(`${here}node_modules/hono/dist/helper/streaming/index.js`);
const { contextvars, requestId } = await import(`${here}dist/index.js`);
const { ContextVar } = await import(`${here}node_modules/@contextvars/core/dist/index.js`);
const user = new ContextVar('user', { default: 'none' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const app = new Hono();
app.use(
  contextvars({
    onRequest: async (c) => {
      await sleep(1);
      user.set(c.req.header('x-user') ?? 'anon');
    },
  }),
);
app.post('/', async (c) => {
  await sleep(Math.random() * 5);
  const body = await c.req.json();
  await new Promise((r) => setTimeout(r, Math.random() * 3));
  return c.json({ id: requestId.get(), user: user.get(), i: body.i });
});
app.get('/fail', async () => {
  await sleep(1);
  throw new Error('x');
});
app.get('/stream', (c) =>
  stream(c, async (s) => {
    for (let i = 0; i < 3; i++) {
      await s.sleep(2);
      await s.writeln(`${requestId.get()} ${user.get()}`);
    }
  }),
);
app.onError((_err, c) => c.json({ id: requestId.get(), user: user.get() }, 500));

async function check(label, call) {
  let bad = 0;
  const res = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      call('/', {
        method: 'POST',
        headers: { 'x-user': `u${i}`, 'x-request-id': `r${i}`, 'content-type': 'application/json' },
        body: JSON.stringify({ i }),
      }).then(async (r) => ({ h: r.headers.get('x-request-id'), b: await r.json() })),
    ),
  );
  res.forEach(({ h, b }, i) => {
    if (h !== `r${i}` || b.id !== `r${i}` || b.user !== `u${i}` || b.i !== i) bad++;
  });
  const f = await (
    await call('/fail', { headers: { 'x-user': 'e', 'x-request-id': 'fail-1' } })
  ).json();
  const s = await (
    await call('/stream', { headers: { 'x-user': 's', 'x-request-id': 'st-1' } })
  ).text();
  const hostile = await call('/fail', { headers: { 'x-request-id': 'a b' } });
  const ok =
    bad === 0 &&
    f.id === 'fail-1' &&
    f.user === 'e' &&
    s === 'st-1 s\nst-1 s\nst-1 s\n' &&
    /^[0-9a-f-]{36}$/.test(hostile.headers.get('x-request-id') ?? '');
  if (!ok) process.exitCode = 1;
  console.log(
    ok ? 'ok' : 'FAILED',
    label,
    JSON.stringify({
      concurrentWrong: bad,
      onError: f,
      stream: s.trim().split('\n'),
      hostileEcho: hostile.headers.get('x-request-id'),
    }),
  );
}
const runtime =
  typeof Bun !== 'undefined'
    ? `bun ${Bun.version}`
    : typeof Deno !== 'undefined'
      ? `deno ${Deno.version.deno}`
      : `node ${process.version}`;
await check(`${runtime} app.fetch:`, (path, init) =>
  app.fetch(new Request(`http://localhost${path}`, init)),
);
let base, stop;
if (typeof Bun !== 'undefined') {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch });
  base = `http://127.0.0.1:${s.port}`;
  stop = () => s.stop(true);
} else if (typeof Deno !== 'undefined') {
  const s = Deno.serve({ port: 0, hostname: '127.0.0.1', onListen() {} }, app.fetch);
  base = `http://127.0.0.1:${s.addr.port}`;
  stop = () => s.shutdown();
}
if (base) {
  await check(`${runtime} server:`, (path, init) => fetch(`${base}${path}`, init));
  await stop();
}
