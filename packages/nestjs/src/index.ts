/**
 * `@contextvars/nestjs`: every NestJS request runs in a fresh contextvars Context,
 * with a validated request id (platform-express and platform-fastify, NestJS 11
 * and 12); `runInFreshContext` and `@WithContext()` give jobs, queue consumers and
 * message handlers a fresh Context of their own.
 *
 * @packageDocumentation
 */
import { requestId } from '@contextvars/core';
import { ContextVarsModule } from './module.js';

export { runInFreshContext, WithContext } from './fresh-context.js';
export type { ContextVarsModuleOptions, ContextVarsNestMiddleware } from './middleware.js';
export { ContextVarsModule, requestId };
export default ContextVarsModule;
