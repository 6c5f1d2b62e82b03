import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The built ESM and CommonJS files of the core, loaded side by side as two module
// instances: what happens when an app `import`s the package and a dependency `require`s it.
const dist = fileURLToPath(new URL('../packages/core/dist/', import.meta.url));
type Core = typeof import('../packages/core/src/index.js');
let esm: Core;
let cjs: Core;

beforeAll(async () => {
  if (!existsSync(`${dist}index.cjs`)) throw new Error('build the packages first: pnpm build');
  esm = (await import(pathToFileURL(`${dist}index.js`).href)) as Core;
  cjs = createRequire(import.meta.url)(`${dist}index.cjs`) as Core;
});

describe('two copies of the core in one process', () => {
  it('are really two module instances', () => {
    expect(esm.ContextVar).not.toBe(cjs.ContextVar);
  });

  it('share one current Context', async () => {
    const a = new esm.ContextVar<string>('fromEsm');
    const b = new cjs.ContextVar<string>('fromCjs');
    const ctx = new cjs.Context();
    await ctx.run(async () => {
      a.set('A');
      b.set('B');
      await new Promise((r) => setTimeout(r, 1));
      const snap = esm.copyContext();
      expect(snap.get(a as never)).toBe('A');
      expect(snap.get(b as never)).toBe('B');
      expect(a.get()).toBe('A');
    });
    expect(ctx.get(a as never)).toBe('A');
    expect(a.get('outside')).toBe('outside');
    // A Context of one copy can be entered through the other's wrap/bind.
    const bound = ctx.bind(() => esm.copyContext().get(b as never));
    expect(bound()).toBe('B');
  });

  it('share the requestId var and the token rules', () => {
    expect(esm.requestId).toBe(cjs.requestId);
    const v = new esm.ContextVar<number>('tok');
    new cjs.Context().run(() => {
      const t = v.set(1);
      v.reset(t);
      let code: string | undefined;
      try {
        v.reset(t);
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(code).toBe('ERR_TOKEN_USED');
      expect(esm.Token.MISSING).toBe(cjs.Token.MISSING);
    });
  });

  it('check re-entry across copies', () => {
    const ctx = new esm.Context();
    let code: string | undefined;
    ctx.run(() => {
      try {
        ctx.run.call(ctx, () => 1);
        new cjs.Context().run(() => esm.Context.prototype.run.call(ctx, () => 1));
      } catch (e) {
        code = (e as { code: string }).code;
      }
    });
    expect(code).toBe('ERR_CONTEXT_ENTERED');
  });
});
