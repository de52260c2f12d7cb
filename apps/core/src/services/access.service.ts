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
