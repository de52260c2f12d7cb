import {
  type AccessController,
  type AccessDecision,
  type AccessRequest,
  type RegistryRoute,
  matchRoute,
} from '@wharf/registry';
import { type RegistryTokenBinding, readTokenBinding } from '@wharf/auth';
import { type FastifyRequest } from 'fastify';
import { ANONYMOUS, principalName } from '../auth/principal.js';
import { projectOfRepository, unknownProjectError } from './project-quota.policy.js';
import { type RegistryProjectRepository } from './registry-project.repository.js';
import { type TokenGrantCache } from './token-grant.cache.js';

/** What the core needs of the token check it wraps: a decision, and the challenge that sends a client back. */
export interface TokenAccess extends AccessController {
  challenge(access: AccessRequest[], error?: 'invalid_token' | 'insufficient_scope'): string;
}

function routeOf(request: FastifyRequest): RegistryRoute | null {
  const url = request.raw.url ?? '';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.startsWith('/v2/') ? matchRoute(path.slice('/v2/'.length)) : null;
}

/**
 * Registry tokens from core's own token service decide every `/v2` request (`inner`), and only while what they were
 * issued for still holds: a token's grants are bound to the account and to each project's id, so a token issued for
 * a project that was deleted grants nothing in a namesake created later, and a token of an account deleted, removed
 * from the project, lowered in role, or (for a robot) disabled or changed stops working at once instead of at its
 * expiry. The client is sent back to the token service with an `insufficient_scope` challenge, where its
 * credentials decide again. Two additions Harbor makes: the actor of an anonymous token is recorded as `anonymous`,
 * and a client holding a token that is refused for a repository whose project does not exist hears that the project
 * is unknown, not that it lacks rights (the token service grants nothing there, so a push to a mistyped project
 * would otherwise end in a puzzling 401).
 */
export class CoreAccessController implements AccessController {
  constructor(
    private readonly inner: TokenAccess,
    private readonly projects: RegistryProjectRepository,
    private readonly grants: TokenGrantCache,
  ) {}

  /** Bindings read from claims, by the claims object: the token check hands back the same one for a known token. */
  private readonly bindings = new WeakMap<object, RegistryTokenBinding | null>();

  private bindingOf(claims: Readonly<Record<string, unknown>> | undefined): RegistryTokenBinding | undefined {
    if (!claims) return undefined;
    let binding = this.bindings.get(claims);
    if (binding === undefined) {
      binding = readTokenBinding(claims) ?? null;
      this.bindings.set(claims, binding);
    }
    return binding ?? undefined;
  }

  async authorize(request: FastifyRequest, access: AccessRequest[]): Promise<AccessDecision> {
    let decision = await this.inner.authorize(request, access);
    if (decision.allowed) {
      const binding = this.bindingOf(decision.claims);
      const refusal = binding ? await this.grants.refusal(binding, access) : 'token is bound to no account';
      if (refusal === undefined) {
        // The claims go on to the policies that read them (the scanner identity passes the pull gates).
        return {
          allowed: true,
          actor: decision.actor ? decision.actor : principalName(ANONYMOUS),
          claims: decision.claims,
        };
      }
      decision = {
        allowed: false,
        authenticated: false,
        challenge: this.inner.challenge(access, 'insufficient_scope'),
        message: refusal,
      };
    }
    // Without credentials the client has not asked the token service yet: the challenge sends it there.
    if (request.headers.authorization !== undefined) await this.refuseUnknownProject(request, access);
    return decision;
  }

  private async refuseUnknownProject(request: FastifyRequest, access: AccessRequest[]): Promise<void> {
    const route = routeOf(request);
    if (!route || !('name' in route)) return;
    // Only the repository the request addresses: a cross-repository mount asks about its source as well, and a
    // source in a missing project just means no mount, not a failed upload.
    if (!access.some((entry) => entry.type === 'repository' && entry.name === route.name)) return;
    const project = projectOfRepository(route.name);
    if (project === undefined || !(await this.projects.exists(project))) throw unknownProjectError(route.name);
  }
}
