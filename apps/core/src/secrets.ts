import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SIGNING_KEY_FILE, type SigningKey, loadOrCreateSigningKey } from '@wharf/auth';
import { type WharfConfig, embeddedRedisPasswordFile } from '@wharf/config';

/** Secrets generated once, on first start, and kept under `<data_volume>/secret` readable by Wharf alone. */
export interface CoreSecrets {
  /** Signs session CSRF tokens. */
  sessionKey: Buffer;
  /** Signs registry tokens. */
  signingKey: SigningKey;
}

/** A secret file `wharf prepare` made sure of, and whether it created it just now. */
export interface PreparedSecret {
  path: string;
  created: boolean;
}

const KEY_BYTES = 32;

export function secretDirectory(dataVolume: string): string {
  return join(dataVolume, 'secret');
}

/**
 * A random key of KEY_BYTES bytes, written as hex into `file` (mode 0600) unless the file exists. Never overwrites:
 * 'wx' fails when another process wrote first, and then both read the winner's key.
 */
async function loadOrCreateHexKey(file: string): Promise<{ key: Buffer; created: boolean }> {
  let created = false;
  try {
    await writeFile(file, randomBytes(KEY_BYTES).toString('hex'), { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = (await stat(file)).mode & 0o077;
  if (mode !== 0) {
    throw new Error(`${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  }
  const text = (await readFile(file, 'utf8')).trim();
  const key = Buffer.from(text, 'hex');
  if (!/^[0-9a-f]+$/i.test(text) || key.length < KEY_BYTES) {
    throw new Error(`${file} does not hold a ${KEY_BYTES}-byte hex key; delete it to generate a new one`);
  }
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
  const [session, signingKey] = await Promise.all([
    loadOrCreateHexKey(join(dir, 'session.key')),
    loadOrCreateSigningKey(dir),
  ]);
  return { sessionKey: session.key, signingKey };
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
