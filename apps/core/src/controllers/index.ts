import { SystemController } from './system.controller.js';

/** Every controller of the API; the OpenAPI document is generated from these. */
export const CONTROLLERS = [SystemController];
