import { defineConfig } from 'tsup';

/** Every package builds the same way: `src/index.ts` to ESM, CommonJS and declarations. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
