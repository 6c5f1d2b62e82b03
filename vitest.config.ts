import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) =>
  fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; the built packages are checked by test/dual-package.
    alias: {
      '@contextvars/core': src('core'),
      '@contextvars/http/node': fileURLToPath(
        new URL('./packages/http/src/node.ts', import.meta.url),
      ),
      '@contextvars/http': src('http'),
      '@contextvars/fastify': src('fastify'),
      '@contextvars/express': src('express'),
      '@contextvars/koa': src('koa'),
      '@contextvars/nestjs': src('nestjs'),
      '@contextvars/hono': src('hono'),
      '@contextvars/otel-bridge': src('otel-bridge'),
      '@contextvars/carry/bullmq': fileURLToPath(
        new URL('./packages/carry/src/bullmq.ts', import.meta.url),
      ),
      '@contextvars/carry': src('carry'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    pool: 'forks',
    // GC tests need gc(); NODE_OPTIONS may add --no-async-context-frame on Node 24.
    execArgv: ['--expose-gc'],
    testTimeout: 20_000,
    // Type tests (expectTypeOf in *.test-d.ts): tsc checks them against the sources,
    // and each assertion block is reported as a test case of the run.
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.ts'],
      tsconfig: './tsconfig.typetests.json',
    },
    hookTimeout: 20_000,
  },
});
