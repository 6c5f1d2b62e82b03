import 'reflect-metadata';
import type { Server } from 'node:http';
import { requestId } from '@contextvars/core';
import { authenticate, createOrder, currentUser, greet } from '@contextvars/example-shared';
import { ContextVarsModule } from '@contextvars/nestjs';
import {
  type ArgumentsHost,
  Body,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Module,
  Post,
} from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';

/** A plain singleton service: no request-scoped provider, no request parameter. */
@Injectable()
export class OrdersService {
  greet() {
    return greet();
  }
  create(input: { item?: unknown; quantity?: unknown }) {
    return createOrder(input);
  }
}

@Controller()
export class AppController {
  // An explicit token: the example runs under tsx/esbuild, which emit no
  // constructor type metadata.
  constructor(@Inject(OrdersService) private readonly orders: OrdersService) {}

  @Get('hello')
  hello() {
    return this.orders.greet();
  }

  @Post('orders')
  @HttpCode(201)
  order(@Body() body: { item?: unknown; quantity?: unknown }) {
    return this.orders.create(body);
  }

  @Get('fail')
  async fail(): Promise<never> {
    throw new Error('something broke');
  }
}

/** The error handler: its log line and answer carry the failing request's id. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  catch(error: Error & { statusCode?: number }, host: ArgumentsHost): void {
    const status = error instanceof HttpException ? error.getStatus() : (error.statusCode ?? 500);
    this.logger.error({ err: error }, 'request failed');
    this.adapterHost.httpAdapter.reply(
      host.switchToHttp().getResponse(),
      { error: error.message, requestId: requestId.get() },
      status,
    );
  }
}

/** The example app: `ContextVarsModule.forRoot(...)` is the only context-specific line. */
export async function buildApp(logger: Logger): Promise<Server> {
  @Module({
    imports: [
      ContextVarsModule.forRoot({
        onRequest: async (req) => {
          currentUser.set(await authenticate(req.headers.authorization));
        },
      }),
    ],
    controllers: [AppController],
    providers: [OrdersService],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: false });
  app.useGlobalFilters(new ErrorFilter(logger, app.get(HttpAdapterHost)));
  await app.init();
  return app.getHttpServer() as Server;
}
