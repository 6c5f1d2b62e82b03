// The load generator shared by the HTTP benchmarks: autocannon in its own process,
// GET or POST with a 1 KB JSON body, failing on any error or non-2xx answer.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');

/** The POST body: 40 fields, about 1 KB of JSON. */
export const POST_BODY = JSON.stringify(
  Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`field${i}`, `value-${i}-`.padEnd(14, 'x')]),
  ),
);

/**
 * Runs autocannon against `port` with `limits` (e.g. `['-c', '50', '-d', '4']`) and
 * returns the average req/s. `wrap` may prefix the command (core pinning).
 */
export async function autocannon(
  port: number,
  method: string,
  limits: string[],
  wrap: (cmd: string, args: string[]) => [string, string[]] = (cmd, args) => [cmd, args],
): Promise<number> {
  const args = [bin, ...limits, '-j', '-m', method];
  if (method === 'POST') args.push('-H', 'content-type=application/json', '-b', POST_BODY);
  args.push(`http://127.0.0.1:${port}/`);
  const [cmd, cargs] = wrap(process.execPath, args);
  const child = spawn(cmd, cargs, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c;
  });
  await once(child, 'close');
  const result = JSON.parse(out);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(
      `errors from port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors (${result.timeouts} timeouts)`,
    );
  return result.requests.average;
}
