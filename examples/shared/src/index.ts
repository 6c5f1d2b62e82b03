/**
 * What the example apps share: a `currentUser` var set by an authentication hook,
 * a logger whose every line carries the request's ids, and service modules that
 * read the user and log without being passed either.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextVar } from '@contextvars/core';
import { pinoMixin, requestLogger } from '@contextvars/otel-bridge';
import pino, { type DestinationStream, type Logger } from 'pino';

export interface User {
  id: string;
  name: string;
}

/** The authenticated user of the current request (`undefined` when anonymous). Immutable values only. */
export const currentUser = new ContextVar<User | undefined>('currentUser', { default: undefined });

const USERS: Record<string, User> = {
  'Bearer alice-token': Object.freeze({ id: 'u-1', name: 'alice' }),
  'Bearer bob-token': Object.freeze({ id: 'u-2', name: 'bob' }),
};

/** Looks a bearer token up, asynchronously, as a real auth check would. */
export async function authenticate(authorization: string | undefined): Promise<User | undefined> {
  await sleep(2);
  return authorization === undefined ? undefined : USERS[authorization];
}

/** A pino logger whose lines carry `request_id`, trace ids and `user_id` wherever they are written. */
export function createLogger(destination?: DestinationStream): Logger {
  const logger = pino(
    {
      mixin: (() => {
        const base = pinoMixin();
        // The arguments pass through: the mixin skips keys the logger already binds
        // (requestLogger's child binds request_id), so no line carries one twice.
        return (...args: Parameters<typeof base>) => {
          const fields = base(...args);
          const user = currentUser.get();
          return user === undefined ? fields : { ...fields, user_id: user.id };
        };
      })(),
    },
    destination ?? pino.destination(1),
  );
  requestLogger.use(logger);
  return logger;
}

/** A service module: reads the user and logs, with no request or logger parameter. */
export function greet(): { message: string } {
  const user = currentUser.get();
  requestLogger.get().info({ anonymous: user === undefined }, 'greeting');
  return { message: `hello ${user?.name ?? 'stranger'}` };
}

export interface Order {
  id: string;
  item: string;
  quantity: number;
  owner: string | undefined;
}

/** Another one, async: the context survives its awaits. */
export async function createOrder(input: { item?: unknown; quantity?: unknown }): Promise<Order> {
  if (typeof input?.item !== 'string' || input.item.length === 0)
    throw Object.assign(new Error('item is required'), { statusCode: 400 });
  await sleep(1);
  const order = {
    id: randomUUID(),
    item: input.item,
    quantity: Number(input.quantity ?? 1),
    owner: currentUser.get()?.id,
  };
  requestLogger.get().info({ order_id: order.id }, 'order created');
  return order;
}

/** Collects pino's JSON lines, for tests and the demo. */
export function memoryDestination(): DestinationStream & { lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return {
    lines,
    write(line: string) {
      lines.push(JSON.parse(line));
    },
  };
}
