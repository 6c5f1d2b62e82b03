// The current OpenTelemetry line (api 1.10, sdk-node 0.301): engines >= 22.15, so
// vitest.config.ts selects this file only there.
import { otelSdkSuite } from './suite.js';

otelSdkSuite('current');
