/**
 * The test app, one per NestJS major and platform: a user middleware, a guard, a
 * pipe, an interceptor (with an async response mapping), a singleton service, a
 * global exception filter, and a pino logger with the bridge's mixin; optionally
 * nestjs-pino, the Express/Fastify adapter registered as well, or no contextvars
 * at all (the control). Each stage sets a var of its own and the later stages
 * report what they see.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextVar, requestId } from '@contextvars/core';
import { contextvars as expressContextvars } from '@contextvars/express';
import { contextvars as fastifyContextvars } from '@contextvars/fastify';
import { ContextVarsModule, type ContextVarsModuleOptions } from '@contextvars/nestjs';
import { pinoMixin } from '@contextvars/otel-bridge';
import { context, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import type {
  ArgumentsHost,
  CallHandler,
  ExecutionContext,
  MiddlewareConsumer,
} from './v12/nest.js';

/** The NestJS packages of one major (see v11/nest.ts and v12/nest.ts). */
export type Nest = typeof import('./v12/nest.js');
export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export const fromMiddleware = new ContextVar<string>('fromMiddleware');
export const fromGuard = new ContextVar<string>('fromGuard');
export const fromPipe = new ContextVar<string>('fromPipe');
export const fromInterceptor = new ContextVar<string>('fromInterceptor');

export interface Seen {
  id: string | null;
  middleware: string | null;
  guard: string | null;
  pipe: string | null;
  interceptor: string | null;
}

/** What the code running now sees of the request. */
export function seen(): Seen {
  return {
    id: requestId.get(null),
    middleware: fromMiddleware.get(null),
    guard: fromGuard.get(null),
    pipe: fromPipe.get(null),
    interceptor: fromInterceptor.get(null),
  };
}

export interface AppOptions {
  /** Options of ContextVarsModule.forRoot; `false`: a bare Nest app (the control). */
  contextvars?: ContextVarsModuleOptions | false;
  /** Raw pino lines go here. */
  lines?: string[];
  /** Log through nestjs-pino (its LoggerModule and Logger) as well. */
  nestjsPino?: boolean;
  /** Register @contextvars/express or @contextvars/fastify on the platform too. */
  adapterToo?: { generateRequestId: () => string };
  /** Every raw request is handed here (retention tests). */
  onRequestObject?: (req: object) => void;
  /** Wraps the server's request listener (what HTTP instrumentation does). */
  aroundRequest?: <R>(fn: () => R) => R;
}

export interface RunningApp {
  base: string;
  server: Server;
  close(): Promise<void>;
}

const sleepRandom = () => sleep(Math.random() * 3);
const header = (req: IncomingMessage, name: string) => req.headers[name] as string | undefined;

export async function startApp(
  nest: Nest,
  platform: Platform,
  options: AppOptions = {},
): Promise<RunningApp> {
  const { common, rxjs } = nest;
  const { Controller, Get, Post, Body, Param, Inject, Injectable, UseGuards, Module, Catch } =
    common;
  const lines = options.lines;
  const logger: Logger = pino(
    { mixin: pinoMixin() },
    lines === undefined ? pino.destination('/dev/null') : { write: (l: string) => lines.push(l) },
  );
  const nestLogger = new common.Logger('Service');

  @Injectable()
  class Service {
    async describe(): Promise<Seen> {
      await sleepRandom();
      logger.info('service');
      if (options.nestjsPino) nestLogger.log('through nestjs-pino');
      return seen();
    }
  }

  @Injectable()
  class ValueGuard {
    async canActivate(context: ExecutionContext): Promise<boolean> {
      const req = context.switchToHttp().getRequest<IncomingMessage>();
      await sleepRandom();
      fromGuard.set(`g-${header(req, 'x-value')}`);
      if (header(req, 'x-deny') !== undefined) throw new common.ForbiddenException('denied');
      return true;
    }
  }

  @Injectable()
  class ValuePipe {
    transform(value: string): string {
      fromPipe.set(`p-${value}`);
      return value;
    }
  }

  @Injectable()
  class ValueInterceptor {
    intercept(context: ExecutionContext, next: CallHandler) {
      const req = context.switchToHttp().getRequest<IncomingMessage>();
      fromInterceptor.set(`i-${header(req, 'x-value')}`);
      return next.handle().pipe(
        rxjs.mergeMap(async (body: unknown) => {
          await sleepRandom();
          return typeof body === 'object' && body !== null ? { ...body, mapped: seen() } : body;
        }),
      );
    }
  }

  @Catch()
  class AllExceptions {
    constructor(
      private readonly adapter: { reply(res: unknown, body: unknown, status: number): unknown },
    ) {}
    catch(exception: unknown, host: ArgumentsHost): void {
      const status = exception instanceof common.HttpException ? exception.getStatus() : 500;
      logger.error({ status }, 'request failed');
      this.adapter.reply(
        host.switchToHttp().getResponse(),
        { error: (exception as Error).message, seen: seen() },
        status,
      );
    }
  }

  @Controller('r')
  class AppController {
    constructor(@Inject(Service) private readonly service: Service) {}

    @Get('stages/:value')
    @UseGuards(ValueGuard)
    async stages(@Param('value', ValuePipe) value: string) {
      return { value, handler: seen(), service: await this.service.describe() };
    }

    @Get('fail')
    async fail(): Promise<never> {
      await sleepRandom();
      throw new Error('handler broke');
    }

    @Post('echo')
    async echo(@Body() body: unknown) {
      await sleepRandom();
      return { body, handler: seen() };
    }

    @Get('slow')
    async slow() {
      await sleep(50);
      return seen();
    }

    @Get('span')
    async span() {
      await sleepRandom();
      logger.info('span');
      return { ...seen(), span: trace.getSpanContext(context.active())?.spanId ?? null };
    }

    @Get('sync')
    sync() {
      return { id: requestId.get(null), value: fromMiddleware.get(null) };
    }
  }

  @Injectable()
  class ValueMiddleware {
    async use(req: IncomingMessage, _res: ServerResponse, next: () => void): Promise<void> {
      options.onRequestObject?.(req);
      if (header(req, 'x-fast') === undefined) await sleepRandom();
      fromMiddleware.set(`m-${header(req, 'x-value')}`);
      next();
    }
  }

  const imports: unknown[] = [];
  if (options.contextvars !== false) imports.push(ContextVarsModule.forRoot(options.contextvars));
  if (options.nestjsPino)
    imports.push(
      nest.nestjsPino.LoggerModule.forRoot({
        pinoHttp: { logger },
        // nestjs-pino 5.2's default route ('{/*splat}') is not mounted by Nest 12's
        // FastifyAdapter; Nest's own '*' is, on both majors and platforms.
        forRoutes: ['*'],
      }),
    );

  @Module({ imports: imports as never[], controllers: [AppController], providers: [Service] })
  class AppModule {
    configure(consumer: MiddlewareConsumer) {
      consumer.apply(ValueMiddleware).forRoutes('*');
    }
  }

  const adapter = platform === 'express' ? new nest.ExpressAdapter() : new nest.FastifyAdapter();
  if (options.adapterToo !== undefined) {
    if (platform === 'express') {
      (adapter as InstanceType<Nest['ExpressAdapter']>).use(expressContextvars(options.adapterToo));
    } else {
      await (adapter as InstanceType<Nest['FastifyAdapter']>)
        .getInstance()
        .register(fastifyContextvars, options.adapterToo);
    }
  }
  const app = await nest.NestFactory.create(AppModule, adapter as never, {
    logger: false,
    bufferLogs: options.nestjsPino === true,
  });
  if (options.nestjsPino) app.useLogger(app.get(nest.nestjsPino.Logger));
  app.useGlobalInterceptors(new ValueInterceptor());
  app.useGlobalFilters(new AllExceptions(app.get(nest.HttpAdapterHost).httpAdapter));
  await app.init();
  const server = app.getHttpServer() as Server;
  if (options.aroundRequest !== undefined) {
    const around = options.aroundRequest;
    for (const listener of server.listeners('request') as Array<(...a: unknown[]) => void>) {
      server.off('request', listener);
      server.on('request', (...args: unknown[]) => around(() => listener(...args)));
    }
  }
  await app.listen(0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      server.closeAllConnections?.();
      await app.close();
    },
  };
}
