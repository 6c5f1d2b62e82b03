// NestJS 12 as the tests use it, resolved from this workspace package's own
// node_modules (see package.json): the suite receives it as a value.
import 'reflect-metadata';

export type {
  ArgumentsHost,
  CallHandler,
  ExecutionContext,
  MiddlewareConsumer,
} from '@nestjs/common';
export * as common from '@nestjs/common';
export { HttpAdapterHost, NestFactory } from '@nestjs/core';
export { ExpressAdapter } from '@nestjs/platform-express';
export { FastifyAdapter } from '@nestjs/platform-fastify';
export * as nestjsPino from 'nestjs-pino';
export * as rxjs from 'rxjs';
export const major = 12;
