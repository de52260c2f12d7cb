import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword, verifyRobotSecret } from '@wharf/auth';
import { ROBOT_NAME_PREFIX } from '../constants.js';
import { type AuthenticatedPrincipal, type RobotPrincipal } from '../auth/principal.js';
import { type RobotCredentials, RobotRepository } from '../repositories/robot.repository.js';
import { robotLoginName } from './robot.service.js';
import { ThrottleRepository } from '../repositories/throttle.repository.js';
import { UserRepository } from '../repositories/user.repository.js';

export type CredentialCheck =
  | { ok: true; principal: AuthenticatedPrincipal }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

/** Failures within this window count towards slowing down further attempts. */
const FAILURE_WINDOW_MS = 15 * 60_000;
/** Failures allowed before attempts are spaced out: per account, and per client address (shared by NAT). */
const FREE_FAILURES = { user: 5, address: 20 } as const;
const MAX_DELAY_MS = 5 * 60_000;

function delayAfter(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(1000 * 2 ** (failures - free), MAX_DELAY_MS);
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'));
  return dummy;
}

/** A robot login name's parts: `robot$ci` (system) or `robot$library+ci` (project `library`). */
export function parseRobotName(login: string): { projectName?: string; name: string } | undefined {
  if (!login.startsWith(ROBOT_NAME_PREFIX)) return undefined;
  const rest = login.slice(ROBOT_NAME_PREFIX.length);
  const plus = rest.indexOf('+');
  if (plus === -1) return rest ? { name: rest } : undefined;
  const projectName = rest.slice(0, plus);
  const name = rest.slice(plus + 1);
  return projectName && name ? { projectName, name } : undefined;
}

/** What a robot's account stands for at `now`, or undefined while it may not act (disabled or expired). */
export function robotPrincipal(robot: RobotCredentials, now: number): RobotPrincipal | undefined {
  if (robot.disabled || (robot.expiresAt !== -1 && robot.expiresAt * 1000 <= now)) return undefined;
  return {
    kind: 'robot',
    robotId: robot.id,
    name: robotLoginName(robot.name, robot.projectName),
    level: robot.level,
    projectId: robot.projectId ?? undefined,
    grants: robot.grants,
  };
}

/**
 * Checks a user name and password (or robot name and secret) wherever they arrive: basic authentication on the
 * API, the portal's login form and the token service. After a few failures for an account or a client address,
 * further attempts are refused until an exponentially growing pause has passed, so guessing is slow while a
 * person who mistyped waits seconds at most.
 */
@Injectable()
export class CredentialService {
  constructor(
    private readonly users: UserRepository,
    private readonly robots: RobotRepository,
    private readonly throttle: ThrottleRepository,
  ) {}

  async check(login: string, secret: string, clientAddress: string): Promise<CredentialCheck> {
    const account = login.toLowerCase();
    const now = Date.now();
    const [byUser, byAddress] = await Promise.all([
      this.throttle.read('user', account),
      this.throttle.read('address', clientAddress),
    ]);
    const waitUntil = Math.max(
      byUser.lastFailureAt + delayAfter(byUser.failures, FREE_FAILURES.user),
      byAddress.lastFailureAt + delayAfter(byAddress.failures, FREE_FAILURES.address),
    );
    if (waitUntil > now)
      return { ok: false, reason: 'throttled', retryAfterSeconds: Math.ceil((waitUntil - now) / 1000) };

    const principal = await this.verify(login, secret, now);
    if (!principal) {
      await Promise.all([
        this.throttle.recordFailure('user', account, FAILURE_WINDOW_MS, now),
        this.throttle.recordFailure('address', clientAddress, FAILURE_WINDOW_MS, now),
      ]);
      return { ok: false, reason: 'invalid' };
    }
    if (byUser.failures > 0) await this.throttle.clear('user', account);
    return { ok: true, principal };
  }

  private async verify(login: string, secret: string, now: number): Promise<AuthenticatedPrincipal | undefined> {
    const robotName = parseRobotName(login);
    if (robotName) {
      const robot = await this.robots.findCredentials(robotName.projectName, robotName.name);
      if (!robot || !verifyRobotSecret(secret, robot.salt, robot.secretHash)) return undefined;
      return robotPrincipal(robot, now);
    }
    const user = await this.users.findCredentialsByUsername(login);
    if (!user) {
      // Spend the same time as for a real account, so timing does not tell which names exist.
      await verifyPassword(secret, await dummyHash());
      return undefined;
    }
    if (!(await verifyPassword(secret, user.passwordHash))) return undefined;
    return { kind: 'user', userId: user.userId, username: user.username, sysadmin: user.sysadmin };
  }
}
