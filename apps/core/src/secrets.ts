import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, chmod, mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SIGNING_KEY_FILE, type SigningKey, isErrno, loadOrCreateSigningKey, publishSecretFile } from '@wharf/auth';
import { type WharfConfig, embeddedRedisPasswordFile, secretDirectory } from '@wharf/config';

/** Secrets generated once, on first start, and kept under `<data_volume>/secret` readable by Wharf alone. */
export interface CoreSecrets {
  /** Signs session CSRF tokens. */
  sessionKey: Buffer;
  /** Signs registry tokens. */
  signingKey: SigningKey;
  /** Encrypts credentials Wharf keeps to reach other services (scanner adapters), AES-256-GCM. */
  encryptionKey: Buffer;
}

/** A secret file `wharf prepare` made sure of, and whether it created it just now. */
export interface PreparedSecret {
  path: string;
  created: boolean;
}

const KEY_BYTES = 32;

/** The key in `file`, or undefined when there is no file. Refuses a key that others may read, or that is no key. */
async function readHexKey(file: string): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    if (isErrno(error, 'ELOOP'))
      throw new Error(`${file} is a symbolic link; a secret must be a regular file`, { cause: error });
    throw error;
  }
  let text: string;
  try {
    // fstat of the opened file, so the checked file is the one read.
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`${file} is not a regular file`);
    const mode = stats.mode & 0o077;
    if (mode !== 0) {
      throw new Error(`${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${file}`);
    }
    text = (await handle.readFile('utf8')).trim();
  } finally {
    await handle.close();
  }
  const key = Buffer.from(text, 'hex');
  if (!/^[0-9a-f]+$/i.test(text) || key.length < KEY_BYTES) {
    throw new Error(`${file} does not hold a ${KEY_BYTES}-byte hex key; delete it to generate a new one`);
  }
  return key;
}

/**
 * A random key of KEY_BYTES bytes, kept as hex in `file` (mode 0600). Created once: when several processes start
 * together, one publishes its key and every other reads that one back.
 */
async function loadOrCreateHexKey(file: string): Promise<{ key: Buffer; created: boolean }> {
  const existing = await readHexKey(file);
  if (existing !== undefined) return { key: existing, created: false };
  const created = await publishSecretFile(file, randomBytes(KEY_BYTES).toString('hex'));
  const key = await readHexKey(file);
  if (key === undefined) throw new Error(`${file} disappeared while it was being created`);
  return { key, created };
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export async function loadCoreSecrets(dataVolume: string): Promise<CoreSecrets> {
  const dir = secretDirectory(dataVolume);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const [session, signingKey, encryption] = await Promise.all([
    loadOrCreateHexKey(join(dir, 'session.key')),
    loadOrCreateSigningKey(dir),
    loadOrCreateHexKey(join(dir, 'encryption.key')),
  ]);
  // AES-256 takes 32 bytes; a longer key file (allowed for keys made by hand) gives its first 32.
  return { sessionKey: session.key, signingKey, encryptionKey: encryption.key.subarray(0, KEY_BYTES) };
}

/**
 * `wharf prepare`: creates `<data_volume>/secret` (0700) and every secret Wharf needs, each once, mode 0600, never
 * overwritten: the session key, the token signing key, the key that encrypts stored credentials and, with the
 * embedded Redis, its password. Run by the user the services run as, so they own what it creates.
 */
export async function prepareSecrets(config: Pick<WharfConfig, 'dataVolume' | 'redis'>): Promise<PreparedSecret[]> {
  const dir = secretDirectory(config.dataVolume);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The directory may predate this command (made by hand or by an older version); only Wharf may list it.
  await chmod(dir, 0o700);
  const prepared: PreparedSecret[] = [];
  const hexKeys = [join(dir, 'session.key'), join(dir, 'encryption.key')];
  if (!config.redis.external) hexKeys.push(embeddedRedisPasswordFile(config.dataVolume));
  for (const path of hexKeys) {
    const { created } = await loadOrCreateHexKey(path);
    prepared.push({ path, created });
  }
  const signingKeyPath = join(dir, SIGNING_KEY_FILE);
  const existed = await fileExists(signingKeyPath);
  await loadOrCreateSigningKey(dir);
  prepared.push({ path: signingKeyPath, created: !existed });
  return prepared;
}
