import base from '../../tsup.base.js';

// Two entries: the framework-neutral engine, and its Node `http` binding.
export default { ...base, entry: ['src/index.ts', 'src/node.ts'] };
