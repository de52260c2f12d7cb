import { type RobotGrant } from '@wharf/auth';

export interface AnonymousPrincipal {
  kind: 'anonymous';
}

export interface UserPrincipal {
  kind: 'user';
  userId: number;
  username: string;
  sysadmin: boolean;
  /** Set when the request authenticated by the portal's session cookie. */
  sessionId?: string;
}

export interface RobotPrincipal {
  kind: 'robot';
  robotId: number;
  /** The full login name, such as `robot$library+ci`. */
  name: string;
  level: 'system' | 'project';
  projectId?: number;
  grants: RobotGrant[];
}

export type Principal = AnonymousPrincipal | UserPrincipal | RobotPrincipal;
export type AuthenticatedPrincipal = UserPrincipal | RobotPrincipal;

export const ANONYMOUS: AnonymousPrincipal = { kind: 'anonymous' };

/** The name the audit log and the registry events record for whoever made a request. */
export function principalName(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return principal.username;
    case 'robot':
      return principal.name;
  }
}

/** A project as the permission checks need it. */
export interface ProjectRef {
  projectId: number;
  name: string;
  public: boolean;
  ownerId: number | null;
}

/** What the guard learned about a request: who made it and, for project routes, the project. */
export interface RequestAuth {
  principal: Principal;
  project?: ProjectRef;
}
