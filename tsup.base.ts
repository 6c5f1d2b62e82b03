import { defineConfig } from 'tsup';

/** Every package builds the same way: `src/index.ts` to ESM, CommonJS and declarations. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  // `@internal` members are the packages' own wiring, not API: keep them out of the types.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
