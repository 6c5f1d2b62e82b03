import { naive, withContext } from './precision.js';

const show = (title: string, rows: Array<[string, string]>) => {
  console.log(title);
  for (const [a, b] of rows) console.log(`  precision 2: ${a.padEnd(8)} precision 5: ${b}`);
};
show('A module-level variable (wrong: the precisions mix after the first step):', naive());
show('\nA ContextVar and independent() generators (right):', withContext());
