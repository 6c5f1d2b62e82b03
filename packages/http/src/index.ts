/**
 * `@contextvars/http`: the per-request engine that every contextvars framework
 * adapter shares, framework-neutral (no `node:http`): options, the request-id
 * policy, a fresh Context per request and the `onRequest` hook. Node's `req`/`res`
 * binding is `@contextvars/http/node`.
 *
 * @packageDocumentation
 */
export { requestId } from '@contextvars/core';
export { singleRawHeader } from './raw-headers.js';
export {
  generateRequestId,
  HTTP_TOKEN,
  isValidRequestId,
  MAX_REQUEST_ID_LENGTH,
} from './request-id.js';
export { RequestScope, type RequestScopeOptions } from './request-scope.js';
