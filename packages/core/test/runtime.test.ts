import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { asyncContextFrames as frames, nodeMajor as major } from '../../../test/support/runtime.js';

// CI runs the suite on several runtimes; this proves each run is on the runtime it claims.

describe('runtime under test', () => {
  it('is the Node.js major that CI asked for', () => {
    const expected = process.env.EXPECT_NODE_MAJOR;
    if (expected) expect(String(major)).toBe(expected);
    expect(major).toBeGreaterThanOrEqual(20);
  });

  it('uses the AsyncLocalStorage propagation CI asked for', () => {
    const expected = process.env.EXPECT_ASYNC_CONTEXT_FRAME;
    if (expected === 'on') expect(frames).toBe(true);
    if (expected === 'off') expect(frames).toBe(false);
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('function');
  });

  it('has AsyncLocalStorage#withScope exactly from Node 26 on (of the runtimes CI runs)', () => {
    const withScope = (AsyncLocalStorage.prototype as { withScope?: unknown }).withScope;
    expect(typeof withScope === 'function').toBe(major >= 26);
  });
});
