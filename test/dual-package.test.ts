import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('a copy with another protocol number beside this one', () => {
  // What a future (or older) release with another internal layout looks like: the
  // same build with its protocol number changed. It must keep its own state and
  // work, never read ours.
  let other: Core;
  beforeAll(() => {
    const source = readFileSync(`${dist}index.cjs`, 'utf8');
    expect(source).toMatch(/var PROTOCOL = \d+;/);
    const dir = mkdtempSync(join(tmpdir(), 'contextvars-protocol-'));
    const file = join(dir, 'index.cjs');
    writeFileSync(file, source.replace(/var PROTOCOL = \d+;/, 'var PROTOCOL = 9999;'));
    other = createRequire(import.meta.url)(file) as Core;
  });

  it('keeps its own current Context, root and requestId', async () => {
    const ours = new cjs.ContextVar<string>('ours');
    const theirs = new other.ContextVar<string>('theirs');
    expect(other.requestId).not.toBe(cjs.requestId);
    await new cjs.Context().run(async () => {
      ours.set('A');
      await new other.Context().run(async () => {
        theirs.set('B');
        await new Promise((r) => setTimeout(r, 1));
        expect(ours.get()).toBe('A');
        expect(theirs.get()).toBe('B');
      });
      expect(theirs.get('unset')).toBe('unset');
      expect(ours.get()).toBe('A');
    });
  });

  it('binds the same emitter independently of ours', () => {
    const ee = new EventEmitter();
    const mine = new cjs.ContextVar<string>('mine');
    const yours = new other.ContextVar<string>('yours');
    const a = new cjs.Context();
    a.run(() => mine.set('bound by ours'));
    const b = new other.Context();
    b.run(() => yours.set('bound by theirs'));
    cjs.bindEmitter(ee, a);
    other.bindEmitter(ee, b);
    let seen: unknown[] = [];
    ee.on('x', () => {
      seen = [mine.get('none'), yours.get('none')];
    });
    ee.emit('x');
    expect(seen).toEqual(['bound by ours', 'bound by theirs']);
  });
});
