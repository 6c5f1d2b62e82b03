// The previous OpenTelemetry line (api 1.9, sdk-node 0.223): runs on every Node.
import { otelSdkSuite } from './suite.js';

otelSdkSuite('previous');
