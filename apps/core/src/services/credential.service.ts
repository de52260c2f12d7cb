import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword, verifyRobotSecret } from '@wharf/auth';
import { ROBOT_NAME_PREFIX } from '../constants.js';
import { type AuthenticatedPrincipal, type RobotPrincipal } from '../auth/principal.js';
import { type RobotCredentials, RobotRepository } from '../repositories/robot.repository.js';
import { type FailureRecord, ThrottleRepository } from '../repositories/throttle.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { robotLoginName } from './robot.service.js';

export type CredentialCheck =
  | { ok: true; principal: AuthenticatedPrincipal }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

/** Failures within this window count towards slowing down further attempts. */
const FAILURE_WINDOW_MS = 15 * 60_000;
/**
 * Failures allowed before attempts are spaced out: for one account from one address, for one client address
 * (shared by NAT) whatever the accounts, and for one account from all addresses together.
 */
const FREE_FAILURES = { pair: 5, address: 20, account: 10 } as const;
/**
 * The same while Redis is unreachable and each process counts only the failures it saw: fewer, since a guesser
 * spreading attempts over several processes is counted by none of them in full.
 */
const LOCAL_FREE_FAILURES = { pair: 3, address: 10, account: 5 } as const;
const MAX_DELAY_MS = 5 * 60_000;

function delayAfter(record: FailureRecord, kind: keyof typeof FREE_FAILURES): number {
  const free = (record.shared ? FREE_FAILURES : LOCAL_FREE_FAILURES)[kind];
  if (record.failures < free) return 0;
  return Math.min(1000 * 2 ** (record.failures - free), MAX_DELAY_MS);
}

/** Addresses hold no spaces: the pair's key cannot be read two ways. */
function pairKey(clientAddress: string, account: string): string {
  return `${clientAddress} ${account}`;
}

const NO_FAILURES: FailureRecord = { failures: 0, lastFailureAt: 0, shared: true };

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
 * API, the portal's login form and the token service.
 *
 * Guessing is slowed without letting anyone lock the owner out. After a few failures, further attempts are refused
 * (429) until an exponentially growing pause has passed, but only for whoever failed:
 * - one address guessing one account: 5 free failures per 15 minutes, then 1 s, 2 s, 4 s, … up to 5 min between
 *   attempts (about 10 attempts in the first minute, then fewer);
 * - one address guessing any accounts: 20 free failures, then the same pauses (about 25 in the first minute);
 * - one account guessed from many addresses: after 10 failures in all, every address that has itself failed for
 *   the account waits the account's pause as well, so a spread-out guesser gets one more try per address per pause.
 * An address with no failure of its own for the account is never refused on the account's behalf: the right
 * password from a clean address always passes, and failures elsewhere never lock the owner out. Robot secrets are
 * 32+ random characters that no one guesses at these rates: robots get no per-account counters at all, only the
 * per-address one. While Redis is unreachable, each process throttles by the failures it saw itself, with lower
 * allowances (3, 10 and 5), and the credentials are still checked against PostgreSQL.
 */
@Injectable()
export class CredentialService {
  constructor(
    private readonly users: UserRepository,
    private readonly robots: RobotRepository,
    private readonly throttle: ThrottleRepository,
  ) {}

  /** Forgets the failures a login from an address counted, for the account, the address and the pair. */
  async forget(login: string, clientAddress: string): Promise<void> {
    const account = login.toLowerCase();
    await Promise.all([
      this.throttle.clear('address', clientAddress),
      this.throttle.clear('pair', pairKey(clientAddress, account)),
      this.throttle.clear('account', account),
    ]);
  }

  async check(login: string, secret: string, clientAddress: string): Promise<CredentialCheck> {
    const account = login.toLowerCase();
    const pair = pairKey(clientAddress, account);
    const perAccount = parseRobotName(login) === undefined;
    const now = Date.now();
    const [byAddress, byPair, byAccount] = await Promise.all([
      this.throttle.read('address', clientAddress),
      perAccount ? this.throttle.read('pair', pair) : NO_FAILURES,
      perAccount ? this.throttle.read('account', account) : NO_FAILURES,
    ]);
    let waitUntil = byAddress.lastFailureAt + delayAfter(byAddress, 'address');
    if (byPair.failures > 0) {
      const pause = Math.max(delayAfter(byPair, 'pair'), delayAfter(byAccount, 'account'));
      waitUntil = Math.max(waitUntil, byPair.lastFailureAt + pause);
    }
    if (waitUntil > now)
      return { ok: false, reason: 'throttled', retryAfterSeconds: Math.ceil((waitUntil - now) / 1000) };

    const principal = await this.verify(login, secret, now);
    if (!principal) {
      await Promise.all([
        this.throttle.recordFailure('address', clientAddress, FAILURE_WINDOW_MS, now),
        perAccount && this.throttle.recordFailure('pair', pair, FAILURE_WINDOW_MS, now),
        perAccount && this.throttle.recordFailure('account', account, FAILURE_WINDOW_MS, now),
      ]);
      return { ok: false, reason: 'invalid' };
    }
    // The account's own count stays: the owner logging in must not reset a guesser's pause elsewhere.
    if (byPair.failures > 0) await this.throttle.clear('pair', pair);
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
