import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SigningKey, loadOrCreateSigningKey } from '@wharf/auth';

/** Secrets generated once, on first start, and kept under `<data_volume>/secret` readable by Wharf alone. */
export interface CoreSecrets {
  /** Signs session CSRF tokens. */
  sessionKey: Buffer;
  /** Signs registry tokens. */
  signingKey: SigningKey;
}

export function secretDirectory(dataVolume: string): string {
  return join(dataVolume, 'secret');
}

async function loadOrCreateSessionKey(dir: string): Promise<Buffer> {
  const file = join(dir, 'session.key');
  try {
    // 'wx' never overwrites: a key another process wrote first wins, and both read that one.
    await writeFile(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = (await stat(file)).mode & 0o077;
  if (mode !== 0) {
    throw new Error(`${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  if (key.length < 32) throw new Error(`${file} does not hold a 32-byte hex key; delete it to generate a new one`);
  return key;
}

export async function loadCoreSecrets(dataVolume: string): Promise<CoreSecrets> {
  const dir = secretDirectory(dataVolume);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const [sessionKey, signingKey] = await Promise.all([loadOrCreateSessionKey(dir), loadOrCreateSigningKey(dir)]);
  return { sessionKey, signingKey };
}
