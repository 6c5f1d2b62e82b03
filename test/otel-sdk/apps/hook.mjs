// `--import ./hook.mjs`: the instrumentation's ESM loader hook, registered before the
// app's imports so that ESM imports of the frameworks and pino are patched.
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
