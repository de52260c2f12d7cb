import { createHash, type Hash } from 'node:crypto';
import { OciError, OciErrorCode } from './errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  encoded: string;
  /** The canonical `algorithm:encoded` string. */
  digest: string;
}

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_GRAMMAR = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Parses a digest, or returns null when it is not one this registry can verify. */
export function parseDigest(value: string): ParsedDigest | null {
  const match = DIGEST_GRAMMAR.exec(value);
  if (!match) return null;
  const algorithm = match[1] as DigestAlgorithm;
  const encoded = match[2];
  if (!Object.hasOwn(ENCODED_LENGTH, algorithm)) return null;
  const length = ENCODED_LENGTH[algorithm];
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) return null;
  return { algorithm, encoded, digest: value };
}

/** Parses a digest from a request, throwing DIGEST_INVALID (or UNSUPPORTED for an unknown algorithm). */
export function requireDigest(value: string | undefined | null): ParsedDigest {
  if (value === undefined || value === null || value === '') {
    throw new OciError(OciErrorCode.DIGEST_INVALID, 'a digest is required');
  }
  const parsed = parseDigest(value);
  if (parsed) return parsed;
  const match = DIGEST_GRAMMAR.exec(value);
  if (match && !Object.hasOwn(ENCODED_LENGTH, match[1])) {
    throw new OciError(
      OciErrorCode.UNSUPPORTED,
      `digest algorithm ${match[1]} is not supported`,
      { digest: value },
      400,
    );
  }
  throw new OciError(OciErrorCode.DIGEST_INVALID, `invalid digest: ${value}`, { digest: value });
}

export function isDigest(value: string): boolean {
  return parseDigest(value) !== null;
}

/** An incremental hasher producing an OCI digest string. */
export class Digester {
  private readonly hash: Hash;

  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer): this {
    this.hash.update(chunk);
    return this;
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

export function digestOf(content: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}`;
}
