export {
  CSRF_HEADER,
  SESSION_COOKIE,
  WharfApiError,
  type ApiErrors,
  type WharfClient,
  type WharfClientOptions,
  createWharfClient,
  unwrap,
} from './client.js';
export type { components, operations, paths } from './schema.js';
