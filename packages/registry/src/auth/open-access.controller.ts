import { type AccessController, type AccessDecision } from '../types.js';

/** Grants everything: for a standalone registry on loopback (`registry.auth: none`). */
export class OpenAccessController implements AccessController {
  authorize(): Promise<AccessDecision> {
    return Promise.resolve({ allowed: true });
  }
}
