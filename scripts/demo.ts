/**
 * The quick-start demo: a value flowing through awaits, timers and emitters, and two
 * concurrent tasks that never see each other's values.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextVar, copyContext, independent, wrap } from '@contextvars/core';

const user = new ContextVar<string>('user', { default: 'nobody' });
const step = new ContextVar<number>('step', { default: 0 });
const bus = new EventEmitter();
const lines: string[] = [];

function log(message: string): void {
  // No parameters: the values come from the current context.
  const line = `[user=${user.get()} step=${step.get()}] ${message}`;
  lines.push(line);
  console.log(line);
}

async function handle(name: string, delays: number[]): Promise<string> {
  user.set(name);
  for (const [i, delay] of delays.entries()) {
    step.set(i + 1);
    await sleep(delay);
    log(`woke after ${delay} ms`);
  }
  await new Promise<void>((resolve) => {
    bus.once(
      `ping:${name}`,
      wrap(() => {
        log('event listener (wrapped) sees its task');
        resolve();
      }),
    );
    setImmediate(() => bus.emit(`ping:${name}`));
  });
  return `${user.get()} finished at step ${step.get()}`;
}

async function main(): Promise<void> {
  console.log('Two tasks, each in its own copy of the context, interleaving at every await:\n');
  const results = await Promise.all([
    copyContext().run(() => handle('alice', [15, 5, 10])),
    copyContext().run(() => handle('bob', [5, 15, 5])),
  ]);
  console.log(`\nresults: ${results.join('; ')}`);
  console.log(`outside both tasks: user=${user.get()} step=${step.get()}`);

  const mixed = lines.filter((l) => !/user=(alice|bob)/.test(l));
  const aliceOk = lines.filter((l) => l.includes('user=alice')).length === 4;
  const bobOk = lines.filter((l) => l.includes('user=bob')).length === 4;

  console.log('\nGenerators (PEP 550): two independent generators keep their own precision:');
  const precision = new ContextVar<number>('precision', { default: 10 });
  function* series(p: number) {
    precision.set(p);
    for (let i = 1; ; i++) yield (1 / (2 * i + 5)).toFixed(precision.get());
  }
  const a = independent(series(2));
  const b = independent(series(5));
  for (let i = 0; i < 3; i++) console.log(`  ${a.next().value}  ${b.next().value}`);

  const ok = mixed.length === 0 && aliceOk && bobOk && user.get() === 'nobody';
  console.log(`\nisolation: ${ok ? 'OK, every line carries its own task' : 'BROKEN'}`);
  process.exitCode = ok ? 0 : 1;
}

await main();
