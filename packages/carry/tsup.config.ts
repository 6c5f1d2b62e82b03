import base from '../../tsup.base.js';

// Two entries: the mechanism, and its BullMQ telemetry (which only BullMQ users load).
export default { ...base, entry: ['src/index.ts', 'src/bullmq.ts'] };
