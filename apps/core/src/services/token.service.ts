import { Inject, Injectable } from '@nestjs/common';
import {
  type RegistryToken,
  type RegistryTokenAccess,
  type RegistryTokenSubject,
  type Scope,
  parseScopes,
  signRegistryToken,
} from '@wharf/auth';
import { isValidRepositoryName } from '@wharf/oci';
import { type Principal, type ProjectRef } from '../auth/principal.js';
import { CORE_SECRETS } from '../constants.js';
import { type TokenQueryDto, type TokenResponseDto } from '../dtos/token.dto.js';
import { ApiError } from '../errors/api-error.js';
import { WithHeaders } from '../http/responses.js';
import { projectOfRepository } from '../registry/project-quota.policy.js';
import { REGISTRY_SERVICE, SCANNER_ACTOR, TOKEN_ISSUER } from '../registry/registry.constants.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { type CoreSecrets } from '../secrets.js';
import { AccessService, type RegistryAction } from './access.service.js';
import { SettingService } from './setting.service.js';

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

/** The account a token is bound to, by id: its name may belong to another account later. */
function tokenSubjectId(principal: Principal): RegistryTokenSubject {
  switch (principal.kind) {
    case 'anonymous':
      return { kind: 'anonymous' };
    case 'user':
      return { kind: 'user', id: principal.userId };
    case 'robot':
      return { kind: 'robot', id: principal.robotId };
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
    const [{ access, projects }, settings] = await Promise.all([this.grant(principal, scopes), this.settings.get()]);
    const signed = await signRegistryToken(this.secrets.signingKey, {
      issuer: TOKEN_ISSUER,
      audience: REGISTRY_SERVICE,
      subject: tokenSubject(principal),
      access,
      binding: { subject: tokenSubjectId(principal), projects },
      expiresInSeconds: settings.token_expiration * 60,
    });
    return new WithHeaders(
      { token: signed.token, access_token: signed.token, expires_in: signed.expiresIn, issued_at: signed.issuedAt },
      // A bearer token must not be kept by caches between the client and the server.
      { 'Cache-Control': 'no-store' },
    );
  }

  /**
   * A short-lived registry token for Wharf's scanner identity: pull of `repository` only, bound to its project's id,
   * marked as the scanner's so that pull policies (vulnerability and signature gates) let it through. Issued inside
   * Wharf to the scanner it runs or calls; never through the token endpoint. Undefined when the repository's project
   * does not exist.
   */
  async issueForScanner(repository: string, expiresInSeconds: number): Promise<RegistryToken | undefined> {
    const projectName = projectOf(repository);
    const project = projectName === undefined ? undefined : await this.projects.findRefByName(projectName);
    if (!project) return undefined;
    return signRegistryToken(this.secrets.signingKey, {
      issuer: TOKEN_ISSUER,
      audience: REGISTRY_SERVICE,
      subject: SCANNER_ACTOR,
      access: [{ type: 'repository', name: repository, actions: ['pull'] }],
      binding: { subject: { kind: 'scanner' }, projects: { [project.name]: project.projectId } },
      expiresInSeconds,
    });
  }

  /**
   * What the token grants: per requested scope, the allowed subset of its actions (scopes with none are left out),
   * and the id of each project a grant names, so the grant holds in that project and not in a later namesake.
   */
  private async grant(
    principal: Principal,
    scopes: readonly Scope[],
  ): Promise<{ access: RegistryTokenAccess[]; projects: Record<string, number> }> {
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
        actions = this.access.registryActions(principal, project);
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
    const access = granted.filter((entry) => entry !== undefined);
    const bound: Record<string, number> = {};
    for (const entry of access) {
      const project = entry.type === 'repository' ? projects.get(projectOf(entry.name) ?? '') : undefined;
      if (project) bound[project.name] = project.projectId;
    }
    return { access, projects: bound };
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
