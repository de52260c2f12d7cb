import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The layout's version, first byte of every sealed value, so another layout can follow. */
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals a credential Wharf keeps (a scanner adapter's access credential) with AES-256-GCM under the install's
 * encryption key and a random IV: `version | iv | tag | ciphertext`. `context` (the owner's identifier) is
 * authenticated with it, so a sealed value copied to another row does not open there.
 */
export function sealCredential(key: Buffer, plaintext: string, context: string): Buffer {
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext]);
}

export class CredentialUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialUnreadableError';
  }
}

/** Opens what sealCredential sealed under the same key and context; throws CredentialUnreadableError otherwise. */
export function openCredential(key: Buffer, sealed: Buffer, context: string): string {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
    throw new CredentialUnreadableError('the stored credential is not in a known layout');
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const ciphertext = sealed.subarray(1 + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialUnreadableError(
      "the stored credential cannot be decrypted with this install's encryption key (was the key replaced?)",
    );
  }
}
