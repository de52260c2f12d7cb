import { Inject, Injectable } from '@nestjs/common';
import { type RegistryTokenAccess, type Scope, parseScopes, signRegistryToken } from '@wharf/auth';
import { isValidRepositoryName } from '@wharf/oci';
import { type Principal, type ProjectRef } from '../auth/principal.js';
import { CORE_SECRETS } from '../constants.js';
import { type TokenQueryDto, type TokenResponseDto } from '../dtos/token.dto.js';
import { ApiError } from '../errors/api-error.js';
import { WithHeaders } from '../http/responses.js';
import { projectOfRepository } from '../registry/project-quota.policy.js';
import { REGISTRY_SERVICE, TOKEN_ISSUER } from '../registry/registry.constants.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { type CoreSecrets } from '../secrets.js';
import { AccessService } from './access.service.js';
import { SettingService } from './setting.service.js';

type RegistryAction = 'pull' | 'push' | 'delete';

/** The order granted actions are listed in, so equal grants read the same. */
const REGISTRY_ACTIONS: readonly RegistryAction[] = ['pull', 'push', 'delete'];

/** The token's `sub`: the account name, empty for anonymous callers as in Harbor's tokens. */
function tokenSubject(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return '';
    case 'user':
      return principal.username;
    case 'robot':
      return principal.name;
  }
}

/** The project of a well-formed repository name; malformed names belong to none and are granted nothing. */
function projectOf(repository: string): string | undefined {
  return isValidRepositoryName(repository) ? projectOfRepository(repository) : undefined;
}

/** `repository(plugin):x` names the same repository as `repository:x`; the class changes nothing here. */
function isRepositoryScope(scope: Scope): boolean {
  return scope.type === 'repository';
}

/**
 * Harbor's token service for the registry: whoever the credentials name (or an anonymous caller) gets a signed token
 * whose `access` claim holds, for each requested scope, only the requested actions their permissions allow. Nothing
 * a caller asks for is granted on faith: an unknown project, an unknown scope type or a missing right simply leaves
 * the action out, and the registry then refuses the request that needs it.
 */
@Injectable()
export class TokenService {
  constructor(
    @Inject(CORE_SECRETS) private readonly secrets: CoreSecrets,
    private readonly access: AccessService,
    private readonly projects: ProjectRepository,
    private readonly settings: SettingService,
  ) {}

  async issue(principal: Principal, query: TokenQueryDto): Promise<WithHeaders<TokenResponseDto>> {
    if (query.service !== REGISTRY_SERVICE) {
      throw ApiError.badRequest(`unknown service "${query.service}": this token service serves ${REGISTRY_SERVICE}`);
    }
    const values = query.scope === undefined ? [] : Array.isArray(query.scope) ? query.scope : [query.scope];
    const { scopes } = parseScopes(values);
    // A token request without scopes is how `docker login` checks credentials: it needs some.
    if (principal.kind === 'anonymous' && scopes.length === 0) {
      throw ApiError.unauthorized('log in with a user name and password, or a robot name and secret');
    }
    const [access, settings] = await Promise.all([this.grant(principal, scopes), this.settings.get()]);
    const signed = await signRegistryToken(this.secrets.signingKey, {
      issuer: TOKEN_ISSUER,
      audience: REGISTRY_SERVICE,
      subject: tokenSubject(principal),
      access,
      expiresInSeconds: settings.token_expiration * 60,
    });
    return new WithHeaders(
      { token: signed.token, access_token: signed.token, expires_in: signed.expiresIn, issued_at: signed.issuedAt },
      // A bearer token must not be kept by caches between the client and the server.
      { 'Cache-Control': 'no-store' },
    );
  }

  /** What the token grants: per requested scope, the allowed subset of its actions; scopes with none are left out. */
  private async grant(principal: Principal, scopes: readonly Scope[]): Promise<RegistryTokenAccess[]> {
    const projectNames = new Set<string>();
    for (const scope of scopes) {
      const name = isRepositoryScope(scope) ? projectOf(scope.name) : undefined;
      if (name !== undefined) projectNames.add(name);
    }
    const found = await Promise.all(
      [...projectNames].map(async (name) => [name, await this.projects.findRefByName(name)] as const),
    );
    const projects = new Map(found);
    // Several repositories of one project share the answer, so each project is evaluated once per token.
    const allowed = new Map<number, Promise<ReadonlySet<RegistryAction>>>();
    const allowedIn = (project: ProjectRef) => {
      let actions = allowed.get(project.projectId);
      if (!actions) {
        actions = this.allowedActions(principal, project);
        allowed.set(project.projectId, actions);
      }
      return actions;
    };

    const granted = await Promise.all(
      scopes.map(async (scope): Promise<RegistryTokenAccess | undefined> => {
        let actions: string[] = [];
        if (isRepositoryScope(scope)) {
          const projectName = projectOf(scope.name);
          const project = projectName === undefined ? undefined : projects.get(projectName);
          if (project) actions = pick(scope.actions, await allowedIn(project));
        } else if (scope.type === 'registry' && scope.class === undefined && scope.name === 'catalog') {
          // Listing every repository of every project is for system administrators only, as in Harbor.
          const sysadmin = principal.kind === 'user' && principal.sysadmin;
          actions = sysadmin && scope.actions.includes('*') ? ['*'] : [];
        }
        return actions.length > 0 ? { type: scope.type, name: scope.name, actions } : undefined;
      }),
    );
    return granted.filter((entry) => entry !== undefined);
  }

  /**
   * The registry actions the principal may take in the project, by Harbor's mapping: pull and push are the
   * repository's pull and push (push only with pull, since every upload also reads); delete is the repository's
   * delete or the artifact's, the same operation the API offers as deleting an artifact.
   */
  private async allowedActions(principal: Principal, project: ProjectRef): Promise<ReadonlySet<RegistryAction>> {
    const can = (resource: 'repository' | 'artifact', action: 'pull' | 'push' | 'delete') =>
      this.access.canInProject(principal, project, resource, action);
    const [pull, push, deleteRepository, deleteArtifact] = await Promise.all([
      can('repository', 'pull'),
      can('repository', 'push'),
      can('repository', 'delete'),
      can('artifact', 'delete'),
    ]);
    const actions = new Set<RegistryAction>();
    if (pull) actions.add('pull');
    if (pull && push) actions.add('push');
    if (deleteRepository || deleteArtifact) actions.add('delete');
    return actions;
  }
}

/** The requested actions that are allowed, in a fixed order; `*` asks for all, and is granted when all are. */
function pick(requested: readonly string[], allowed: ReadonlySet<RegistryAction>): string[] {
  const all = requested.includes('*');
  const actions: string[] = REGISTRY_ACTIONS.filter(
    (action) => allowed.has(action) && (all || requested.includes(action)),
  );
  if (all && actions.length === REGISTRY_ACTIONS.length) actions.push('*');
  return actions;
}
