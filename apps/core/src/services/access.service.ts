import { Injectable } from '@nestjs/common';
import {
  type Action,
  type ProjectRole,
  type Resource,
  publicProjectAllows,
  robotAllows,
  roleAllows,
} from '@wharf/auth';
import { type Principal, type ProjectRef } from '../auth/principal.js';
import { ProjectRepository } from '../repositories/project.repository.js';

/** What a registry token can grant on a repository. */
export type RegistryAction = 'pull' | 'push' | 'delete';

/**
 * Harbor's permission model in one place: a system admin may do anything; in a project a user may do what the
 * role of their membership allows, a robot what its permissions grant, and on a public project anyone (also
 * anonymous) may do what Harbor lets visitors do; outside projects only system admins and system robots act.
 */
@Injectable()
export class AccessService {
  constructor(private readonly projects: ProjectRepository) {}

  /** The project role of a user principal, undefined for others and for non-members. */
  async roleIn(principal: Principal, project: ProjectRef): Promise<ProjectRole | undefined> {
    if (principal.kind !== 'user') return undefined;
    return await this.projects.memberRole(project.projectId, principal.userId);
  }

  async canInProject(principal: Principal, project: ProjectRef, resource: Resource, action: Action): Promise<boolean> {
    if (principal.kind === 'user' && principal.sysadmin) return true;
    if (project.public && publicProjectAllows(resource, action)) return true;
    switch (principal.kind) {
      case 'anonymous':
        return false;
      case 'robot':
        return robotAllows(principal.grants, { kind: 'project', namespace: project.name, resource, action });
      case 'user': {
        const role = await this.roleIn(principal, project);
        return role !== undefined && roleAllows(role, resource, action);
      }
    }
  }

  /**
   * The registry actions the principal may take in the project, by Harbor's mapping: pull and push are the
   * repository's pull and push (push only with pull, since every upload also reads); delete is the repository's
   * delete or the artifact's, the same operation the API offers as deleting an artifact.
   */
  async registryActions(principal: Principal, project: ProjectRef): Promise<ReadonlySet<RegistryAction>> {
    const can = (resource: 'repository' | 'artifact', action: 'pull' | 'push' | 'delete') =>
      this.canInProject(principal, project, resource, action);
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

  canInSystem(principal: Principal, resource: Resource, action: Action): boolean {
    switch (principal.kind) {
      case 'anonymous':
        return false;
      case 'user':
        return principal.sysadmin;
      case 'robot':
        return robotAllows(principal.grants, { kind: 'system', namespace: '/', resource, action });
    }
  }
}
