import { describe, expect, it } from 'vitest';

// CI runs the suite on several runtimes; this proves each run is on the runtime it claims.
describe('runtime under test', () => {
  it('is the Node.js major that CI asked for', () => {
    const expected = process.env.EXPECT_NODE_MAJOR;
    const actual = process.versions.node.split('.')[0];
    if (expected) expect(actual).toBe(expected);
    expect(Number(actual)).toBeGreaterThanOrEqual(20);
  });

  it('uses the AsyncLocalStorage propagation CI asked for', () => {
    const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
    const disabled = flags.includes('--no-async-context-frame');
    if (process.env.EXPECT_ASYNC_CONTEXT_FRAME === 'off') expect(disabled).toBe(true);
    if (process.env.EXPECT_ASYNC_CONTEXT_FRAME === 'on') expect(disabled).toBe(false);
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('function');
  });
});
