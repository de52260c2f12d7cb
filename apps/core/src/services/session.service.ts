import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CORE_SECRETS } from '../constants.js';
import { type UserPrincipal } from '../auth/principal.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { type CoreSecrets } from '../secrets.js';

/** Harbor's cookie name, so tooling that scripts the portal login keeps working. */
export const SESSION_COOKIE = 'sid';
export const CSRF_HEADER = 'x-harbor-csrf-token';
/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 60 * 60_000;
/** …and at the latest this long after login. */
export const SESSION_MAX_AGE_MS = 24 * 60 * 60_000;

@Injectable()
export class SessionService {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly users: UserRepository,
    @Inject(CORE_SECRETS) private readonly secrets: CoreSecrets,
  ) {}

  async create(userId: number): Promise<{ sessionId: string; csrfToken: string }> {
    const sessionId = randomBytes(32).toString('base64url');
    await this.sessions.create(sessionId, { userId, createdAt: Date.now() }, SESSION_IDLE_MS, SESSION_MAX_AGE_MS);
    return { sessionId, csrfToken: this.csrfToken(sessionId) };
  }

  /** The user of a live session, read fresh so a revoked admin flag takes effect at once. */
  async resolve(sessionId: string): Promise<UserPrincipal | undefined> {
    if (sessionId.length > 128) return undefined;
    const record = await this.sessions.touch(sessionId, SESSION_IDLE_MS);
    if (!record) return undefined;
    if (Date.now() - record.createdAt > SESSION_MAX_AGE_MS) {
      await this.sessions.delete(sessionId, record.userId);
      return undefined;
    }
    const user = await this.users.findCredentialsById(record.userId);
    if (!user) {
      await this.sessions.delete(sessionId, record.userId);
      return undefined;
    }
    return { kind: 'user', userId: user.userId, username: user.username, sysadmin: user.sysadmin, sessionId };
  }

  async destroy(sessionId: string, userId: number): Promise<void> {
    await this.sessions.delete(sessionId, userId);
  }

  async destroyAllOf(userId: number): Promise<void> {
    await this.sessions.deleteForUser(userId);
  }

  /** Bound to the session: only a page that read it from Wharf's own responses can send it back. */
  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.secrets.sessionKey).update(`csrf:${sessionId}`).digest('base64url');
  }

  checkCsrf(sessionId: string, token: string | undefined): boolean {
    if (!token) return false;
    const expected = Buffer.from(this.csrfToken(sessionId));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
