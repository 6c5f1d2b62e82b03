/**
 * `ContextVarsModule`: applies the request middleware to every route of the app.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { DynamicModule, MiddlewareConsumer, NestModule } from '@nestjs/common';
import { type ContextVarsModuleOptions, contextvarsMiddleware } from './middleware.js';

// Nest's own spelling of "every path": it maps `'*'` to the wildcard of the
// platform's router (Express 5 and Fastify 5 alike, global prefix included) without
// a deprecation warning, on Nest 11 and 12.
const ALL_ROUTES = '*';

/**
 * The NestJS module: every HTTP request runs in a fresh contextvars Context with a
 * validated request id (the shared `requestId` var), on platform-express and
 * platform-fastify, NestJS 11 and 12.
 *
 * Import it first in the root module: `imports: [ContextVarsModule.forRoot(options)]`.
 * It is a global module, and Nest mounts the middleware of global modules before
 * that of the others, so guards, interceptors, pipes, controllers, services,
 * exception filters and the other modules' middleware all run in the request's
 * Context. Importing the class without `forRoot()` applies the default options.
 *
 * The module's files use no decorator syntax and import nothing of Nest at run
 * time, so it works with whichever Nest major the app installed.
 */
export class ContextVarsModule implements NestModule {
  /**
   * The module with these options.
   *
   * @throws `InvalidArgTypeError` (`ERR_INVALID_ARG_TYPE`) for options of the wrong type.
   */
  static forRoot<Req extends IncomingMessage = IncomingMessage>(
    options: ContextVarsModuleOptions<Req> = {},
  ): DynamicModule {
    const middleware = contextvarsMiddleware(options);
    // One class per call carries its options in a closure rather than through a
    // provider: no constructor injection, so nothing depends on decorator metadata.
    const ContextVarsRootModule = class extends ContextVarsModule {
      override configure(consumer: MiddlewareConsumer): void {
        consumer.apply(middleware).forRoutes(ALL_ROUTES);
      }
    };
    Object.defineProperty(ContextVarsRootModule, 'name', { value: 'ContextVarsModule' });
    return { module: ContextVarsRootModule, global: true };
  }

  /** Called by Nest: mounts the request middleware on every route. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(contextvarsMiddleware({})).forRoutes(ALL_ROUTES);
  }
}
