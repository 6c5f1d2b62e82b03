/**
 * Work outside HTTP: runInFreshContext and @WithContext() (cron jobs, queue
 * consumers, message handlers), with Nest's own metadata decorators and RxJS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextVar, requestId } from '@contextvars/core';
import { runInFreshContext, WithContext } from '@contextvars/nestjs';
import { describe, expect, it } from 'vitest';
import * as nest from './v12/nest.js';

const { SetMetadata } = nest.common;
const jobId = new ContextVar<string>('jobId');
const outer = new ContextVar<string>('outer');

describe('runInFreshContext', () => {
  it('sees the values around it; what it sets stays inside, across awaits', async () => {
    outer.set('around');
    const seen = await runInFreshContext(async () => {
      jobId.set('j1');
      await sleep(1);
      return [outer.get(), jobId.get()];
    });
    expect(seen).toEqual(['around', 'j1']);
    expect(jobId.get('none')).toBe('none');
  });

  it('runs of the same timer do not see each other', async () => {
    const seen: string[] = [];
    await new Promise<void>((done) => {
      let n = 0;
      const timer = setInterval(() => {
        runInFreshContext(() => {
          seen.push(jobId.get('unset'));
          jobId.set(`run-${n}`);
        });
        if (++n === 3) {
          clearInterval(timer);
          done();
        }
      }, 1);
    });
    expect(seen).toEqual(['unset', 'unset', 'unset']);
  });
});

describe('@WithContext()', () => {
  class Jobs {
    readonly name = 'jobs';
    @SetMetadata('above', 1)
    @WithContext(function (this: Jobs, id: string) {
      requestId.set(`${this.name}-${id}`);
    })
    @SetMetadata('below', 2)
    handle(id: string): { before: string; id: string } {
      const before = jobId.get('unset');
      jobId.set(id);
      return { before, id: requestId.get() };
    }

    @WithContext(async (id: string) => {
      await sleep(1);
      jobId.set(id);
    })
    async consume(_id: string): Promise<string> {
      await sleep(1);
      return jobId.get();
    }

    @WithContext()
    reply(value: string) {
      jobId.set(value);
      // Nest subscribes to a handler's Observable later, outside the call.
      return nest.rxjs.defer(() => nest.rxjs.of(jobId.get('lost')));
    }
  }

  it('every call runs in a Context of its own; setup gets this and the arguments', () => {
    const jobs = new Jobs();
    expect(jobs.handle('a')).toEqual({ before: 'unset', id: 'jobs-a' });
    expect(jobs.handle('b')).toEqual({ before: 'unset', id: 'jobs-b' });
    expect(jobId.get('none')).toBe('none');
    expect(requestId.get('none')).toBe('none');
  });

  it('an async setup is awaited before the method', async () => {
    const jobs = new Jobs();
    expect(await Promise.all([jobs.consume('x'), jobs.consume('y')])).toEqual(['x', 'y']);
  });

  it("keeps the metadata of Nest's decorators above and below it, and the method's name", () => {
    const method = Jobs.prototype.handle;
    expect(Reflect.getMetadata('above', method)).toBe(1);
    expect(Reflect.getMetadata('below', method)).toBe(2);
    expect(method.name).toBe('handle');
  });

  it("an Observable the method returns is subscribed in the method's Context", async () => {
    const jobs = new Jobs();
    const source = jobs.reply('from-call');
    expect(nest.rxjs.isObservable(source)).toBe(true);
    expect(await nest.rxjs.lastValueFrom(source.pipe(nest.rxjs.map((v) => `${v}!`)))).toBe(
      'from-call!',
    );
  });

  it('refuses what is not a method', () => {
    expect(() => WithContext()({}, 'x', { value: 1 as unknown as () => unknown })).toThrow(
      TypeError,
    );
  });
});
