import {
  type AccessController,
  type AccessDecision,
  type AccessRequest,
  type RegistryRoute,
  matchRoute,
} from '@wharf/registry';
import { type FastifyRequest } from 'fastify';
import { ANONYMOUS, principalName } from '../auth/principal.js';
import { projectOfRepository, unknownProjectError } from './project-quota.policy.js';
import { type RegistryProjectRepository } from './registry-project.repository.js';

function routeOf(request: FastifyRequest): RegistryRoute | null {
  const url = request.raw.url ?? '';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.startsWith('/v2/') ? matchRoute(path.slice('/v2/'.length)) : null;
}

/**
 * Registry tokens from core's own token service decide every `/v2` request (`inner`), with two additions Harbor
 * makes: the actor of an anonymous token is recorded as `anonymous`, and a client holding a token that is refused
 * for a repository whose project does not exist hears that the project is unknown, not that it lacks rights (the
 * token service grants nothing there, so a push to a mistyped project would otherwise end in a puzzling 401).
 */
export class CoreAccessController implements AccessController {
  constructor(
    private readonly inner: AccessController,
    private readonly projects: RegistryProjectRepository,
  ) {}

  async authorize(request: FastifyRequest, access: AccessRequest[]): Promise<AccessDecision> {
    const decision = await this.inner.authorize(request, access);
    if (decision.allowed) {
      return { allowed: true, actor: decision.actor ? decision.actor : principalName(ANONYMOUS) };
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
