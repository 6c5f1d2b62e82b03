/**
 * PEP 550's motivating example: decimal precision as context state, read by
 * generators that are iterated in lock-step.
 */
import { ContextVar, independent } from '@contextvars/core';

/** With a plain module-level variable: every generator shares one precision. */
let globalPrecision = 28;

function* withGlobal(precision: number): Generator<string> {
  globalPrecision = precision;
  for (let i = 1; ; i++) yield (1 / (2 * i + 5)).toFixed(globalPrecision);
}

/** With a context variable and independent generators: each keeps its own. */
const precision = new ContextVar<number>('precision', { default: 28 });

function* withContextVar(p: number): Generator<string> {
  precision.set(p);
  for (let i = 1; ; i++) yield (1 / (2 * i + 5)).toFixed(precision.get());
}

function zip(a: Iterator<string>, b: Iterator<string>, n: number): Array<[string, string]> {
  return Array.from({ length: n }, () => [a.next().value as string, b.next().value as string]);
}

/** The naive version: the second generator's precision leaks into the first. */
export function naive(n = 3): Array<[string, string]> {
  return zip(withGlobal(2), withGlobal(5), n);
}

/** The contextvars version: two independent generators, each with its own precision. */
export function withContext(n = 3): Array<[string, string]> {
  return zip(independent(withContextVar(2)), independent(withContextVar(5)), n);
}
