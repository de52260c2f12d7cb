import { readFile } from 'node:fs/promises';
import { type FastifyRequest } from 'fastify';
import { type JWTPayload, errors as joseErrors, importSPKI, importX509, jwtVerify } from 'jose';
import { createPublicKey } from 'node:crypto';
import { type AccessController, type AccessDecision, type AccessRequest } from '../types.js';

export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  /** PEM public key or X.509 certificate whose key signs the tokens (ES256 or RS256). */
  publicKeyPem: string;
  /** Allowed clock skew in seconds. */
  clockToleranceSeconds?: number;
}

type VerificationKey = Awaited<ReturnType<typeof importSPKI>>;

/** Distinct verified tokens kept per process (a token is about 1 KB). */
const VERIFIED_TOKEN_CACHE_SIZE = 4096;

interface TokenAccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** The scope string of the Docker token protocol: `repository:<name>:pull,push`. */
export function formatScope(access: AccessRequest): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

async function importVerificationKey(pem: string): Promise<{ key: VerificationKey; algorithms: string[] }> {
  const trimmed = pem.trim();
  if (trimmed.includes('BEGIN CERTIFICATE')) {
    const keyType = createPublicKey(trimmed).asymmetricKeyType;
    const alg = keyType === 'ec' ? 'ES256' : 'RS256';
    return { key: await importX509(trimmed, alg), algorithms: [alg] };
  }
  const keyType = createPublicKey(trimmed).asymmetricKeyType;
  if (keyType !== 'ec' && keyType !== 'rsa') {
    throw new Error(`token public key must be an EC (ES256) or RSA (RS256) key, got ${keyType ?? 'unknown'}`);
  }
  const alg = keyType === 'ec' ? 'ES256' : 'RS256';
  return { key: await importSPKI(trimmed, alg), algorithms: [alg] };
}

/**
 * Bearer JWT authentication in the Docker token protocol: signature, expiry, issuer, audience, then the `access`
 * claim must grant every action the request needs. A missing or bad token, or one without the needed scope,
 * answers 401 with a challenge naming the scope, so clients fetch a token that has it.
 */
export class TokenAccessController implements AccessController {
  private constructor(
    private readonly options: TokenAuthOptions,
    private readonly key: VerificationKey,
    private readonly algorithms: string[],
  ) {}

  /**
   * Tokens whose signature was checked, with their claims: a client sends the same token with every request of a
   * push or pull, and an ES256 verification costs more than serving a cached manifest. Expiry is still checked on
   * every use; the map is bounded and forgets its oldest entries first.
   */
  private readonly verified = new Map<string, JWTPayload>();

  private get tolerance(): number {
    return this.options.clockToleranceSeconds ?? 30;
  }

  private cachedPayload(token: string): JWTPayload | undefined {
    const payload = this.verified.get(token);
    if (!payload) return undefined;
    if (typeof payload.exp !== 'number' || payload.exp + this.tolerance < Date.now() / 1000) {
      this.verified.delete(token);
      return undefined;
    }
    return payload;
  }

  private remember(token: string, payload: JWTPayload): void {
    if (this.verified.size >= VERIFIED_TOKEN_CACHE_SIZE) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, payload);
  }

  static async create(options: TokenAuthOptions): Promise<TokenAccessController> {
    const { key, algorithms } = await importVerificationKey(options.publicKeyPem);
    return new TokenAccessController(options, key, algorithms);
  }

  static async fromFile(options: Omit<TokenAuthOptions, 'publicKeyPem'> & { publicKeyFile: string }) {
    const pem = await readFile(options.publicKeyFile, 'utf8');
    return TokenAccessController.create({ ...options, publicKeyPem: pem });
  }

  challenge(access: AccessRequest[], error?: 'invalid_token' | 'insufficient_scope'): string {
    let value = `Bearer realm=${quote(this.options.realm)},service=${quote(this.options.service)}`;
    if (access.length > 0) value += `,scope=${quote(access.map(formatScope).join(' '))}`;
    if (error) value += `,error=${quote(error)}`;
    return value;
  }

  async authorize(request: FastifyRequest, access: AccessRequest[]): Promise<AccessDecision> {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      return {
        allowed: false,
        authenticated: false,
        challenge: this.challenge(access),
        message: 'authentication required',
      };
    }
    const token = match[1];
    let payload: JWTPayload | undefined = this.cachedPayload(token);
    if (!payload) {
      try {
        ({ payload } = await jwtVerify(token, this.key, {
          algorithms: this.algorithms,
          issuer: this.options.issuer,
          audience: this.options.service,
          clockTolerance: this.tolerance,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        const message =
          error instanceof joseErrors.JWTExpired ? 'token has expired' : 'token is not valid for this registry';
        return {
          allowed: false,
          authenticated: false,
          challenge: this.challenge(access, 'invalid_token'),
          message,
        };
      }
      this.remember(token, payload);
    }
    const granted = Array.isArray(payload.access) ? (payload.access as TokenAccessEntry[]) : [];
    for (const needed of access) {
      const entry = granted.find(
        (g) => g && g.type === needed.type && g.name === needed.name && Array.isArray(g.actions),
      );
      const actions = new Set(entry?.actions ?? []);
      const ok = needed.actions.every((a) => actions.has(a) || actions.has('*'));
      if (!ok) {
        return {
          allowed: false,
          authenticated: false,
          challenge: this.challenge(access, 'insufficient_scope'),
          message: `token does not grant ${formatScope(needed)}`,
        };
      }
    }
    return { allowed: true, actor: typeof payload.sub === 'string' ? payload.sub : undefined, claims: payload };
  }
}
