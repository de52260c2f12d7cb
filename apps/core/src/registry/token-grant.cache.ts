import { type RegistryTokenBinding, type RegistryTokenSubject } from '@wharf/auth';
import { type ListenHandlers, type NotificationListener } from '@wharf/db';
import { type AccessRequest } from '@wharf/registry';
import { type Principal } from '../auth/principal.js';
import { type ProjectRepository } from '../repositories/project.repository.js';
import { type RobotRepository } from '../repositories/robot.repository.js';
import { type UserRepository } from '../repositories/user.repository.js';
import { type AccessService, type RegistryAction } from '../services/access.service.js';
import { robotPrincipal } from '../services/credential.service.js';
import { projectOfRepository } from './project-quota.policy.js';

/** Subscribes to the access change notices; the host wires it to PostgreSQL LISTEN. */
export type AccessChangeSource = (handlers: ListenHandlers) => NotificationListener;

export interface TokenGrantSources {
  users: UserRepository;
  robots: RobotRepository;
  projects: ProjectRepository;
  access: AccessService;
}

/** Entries kept per map: accounts and (account, project) pairs seen in the last while. */
const MAX_ENTRIES = 20_000;

interface SubjectEntry {
  /** Undefined: the account is gone or may not act. */
  principal: Principal | undefined;
  /** Epoch ms until which the account may act (a robot's expiry), Infinity when it does not expire. */
  validUntil: number;
}

interface ProjectEntry {
  /** Undefined: no project has the name now. */
  projectId: number | undefined;
  actions: ReadonlySet<RegistryAction>;
}

const NO_ACTIONS: ReadonlySet<RegistryAction> = new Set();

function subjectKey(subject: RegistryTokenSubject): string {
  if (subject.kind === 'anonymous') return 'a';
  if (subject.kind === 'scanner') return 's';
  return `${subject.kind === 'user' ? 'u' : 'r'}${subject.id}`;
}

/** All the scanner identity may ever do in a project. */
const SCANNER_ACTIONS: ReadonlySet<RegistryAction> = new Set(['pull']);

/**
 * Whether a registry token is still worth what it says, asked on every `/v2` request: the account it was issued to
 * must still exist and may act, each project it names must be the very project it was issued for (same id), and the
 * account must still hold every action the request needs there. The answers are kept per process and dropped
 * whenever the database announces a change to accounts, projects, memberships or robots (LISTEN/NOTIFY), so with
 * a warm cache a request costs two map lookups and no query. While the notice channel is down nothing is kept and
 * every request asks the database; a fill that overlapped a notice is not stored.
 */
export class TokenGrantCache {
  private readonly subjects = new Map<string, SubjectEntry>();
  private readonly grants = new Map<string, ProjectEntry>();
  private readonly pending = new Map<string, Promise<unknown>>();
  private epoch = 0;
  private live = false;
  private readonly listener: NotificationListener;

  constructor(
    private readonly sources: TokenGrantSources,
    changes: AccessChangeSource,
  ) {
    this.listener = changes({
      onMessage: () => this.clear(),
      onConnected: () => {
        this.clear();
        this.live = true;
      },
      onDisconnected: () => {
        this.live = false;
        this.clear();
      },
    });
  }

  /** Undefined when the token's binding still holds every access the request needs, else why not. */
  async refusal(binding: RegistryTokenBinding, access: readonly AccessRequest[]): Promise<string | undefined> {
    if (binding.subject.kind === 'scanner') return this.scannerRefusal(binding, access);
    const principal = await this.principal(binding.subject);
    if (!principal) return 'the account this token was issued to no longer exists or may not act';
    for (const needed of access) {
      if (needed.type === 'registry') {
        if (!(principal.kind === 'user' && principal.sysadmin)) return 'the account may no longer list the catalog';
        continue;
      }
      const projectName = projectOfRepository(needed.name);
      const boundId = projectName === undefined ? undefined : binding.projects[projectName];
      if (projectName === undefined || boundId === undefined) return `token was not issued for ${needed.name}`;
      const grant = await this.grantIn(binding.subject, principal, projectName);
      if (grant.projectId !== boundId) return `token was issued for a project ${projectName} that no longer exists`;
      const missing = needed.actions.find((action) => !grant.actions.has(action));
      if (missing !== undefined) return `the account may no longer ${missing} in project ${projectName}`;
    }
    return undefined;
  }

  /** The scanner identity pulls, only in the very projects its token was issued for, and never lists the catalog. */
  private async scannerRefusal(binding: RegistryTokenBinding, access: readonly AccessRequest[]) {
    for (const needed of access) {
      if (needed.type === 'registry') return 'the scanner may not list the catalog';
      const projectName = projectOfRepository(needed.name);
      const boundId = projectName === undefined ? undefined : binding.projects[projectName];
      if (projectName === undefined || boundId === undefined) return `token was not issued for ${needed.name}`;
      const key = `s\u0000${projectName}`;
      const entry =
        (this.live ? this.grants.get(key) : undefined) ??
        (await this.fill(this.grants, key, async () => {
          const project = await this.sources.projects.findRefByName(projectName);
          return { projectId: project?.projectId, actions: SCANNER_ACTIONS };
        }));
      if (entry.projectId !== boundId) return `token was issued for a project ${projectName} that no longer exists`;
      const missing = needed.actions.find((action) => !entry.actions.has(action));
      if (missing !== undefined) return `the scanner may not ${missing}`;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.live = false;
    this.clear();
    await this.listener.close();
  }

  private clear(): void {
    this.subjects.clear();
    this.grants.clear();
    this.pending.clear();
    this.epoch += 1;
  }

  private async principal(subject: RegistryTokenSubject): Promise<Principal | undefined> {
    const key = subjectKey(subject);
    let entry = this.live ? this.subjects.get(key) : undefined;
    entry ??= await this.fill(this.subjects, key, () => this.loadSubject(subject));
    return entry.validUntil > Date.now() ? entry.principal : undefined;
  }

  private async grantIn(subject: RegistryTokenSubject, principal: Principal, projectName: string) {
    const key = `${subjectKey(subject)}\u0000${projectName}`;
    const entry = this.live ? this.grants.get(key) : undefined;
    return entry ?? (await this.fill(this.grants, key, () => this.loadGrant(principal, projectName)));
  }

  /** Loads once for concurrent askers; keeps the answer only if no notice arrived meanwhile. */
  private async fill<T>(map: Map<string, T>, key: string, load: () => Promise<T>): Promise<T> {
    const pendingKey = `${map === this.subjects ? 's' : 'g'}${key}`;
    const running = this.pending.get(pendingKey) as Promise<T> | undefined;
    if (running) return running;
    const epoch = this.epoch;
    const loading = load();
    if (this.live) this.pending.set(pendingKey, loading);
    try {
      const value = await loading;
      if (this.live && this.epoch === epoch) {
        if (map.size >= MAX_ENTRIES) {
          const oldest = map.keys().next();
          if (!oldest.done) map.delete(oldest.value);
        }
        map.set(key, value);
      }
      return value;
    } finally {
      if (this.pending.get(pendingKey) === loading) this.pending.delete(pendingKey);
    }
  }

  private async loadSubject(subject: RegistryTokenSubject): Promise<SubjectEntry> {
    switch (subject.kind) {
      case 'anonymous':
        return { principal: { kind: 'anonymous' }, validUntil: Infinity };
      case 'scanner':
        // Not an account: its tokens are judged by scannerRefusal alone.
        return { principal: undefined, validUntil: 0 };
      case 'user': {
        const user = await this.sources.users.findCredentialsById(subject.id);
        return {
          principal: user && { kind: 'user', userId: user.userId, username: user.username, sysadmin: user.sysadmin },
          validUntil: Infinity,
        };
      }
      case 'robot': {
        const robot = await this.sources.robots.findCredentialsById(subject.id);
        const principal = robot && robotPrincipal(robot, Date.now());
        return { principal, validUntil: principal && robot.expiresAt !== -1 ? robot.expiresAt * 1000 : Infinity };
      }
    }
  }

  private async loadGrant(principal: Principal, projectName: string): Promise<ProjectEntry> {
    const project = await this.sources.projects.findRefByName(projectName);
    if (!project) return { projectId: undefined, actions: NO_ACTIONS };
    return { projectId: project.projectId, actions: await this.sources.access.registryActions(principal, project) };
  }
}
