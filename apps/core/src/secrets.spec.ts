import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { secretDirectory } from '@wharf/config';
import { loadCoreSecrets, prepareSecrets } from './secrets.js';

describe('secrets under <data_volume>/secret', () => {
  let dataVolume: string;
  let dir: string;

  beforeEach(() => {
    dataVolume = mkdtempSync(join(tmpdir(), 'wharf-secrets-'));
    dir = secretDirectory(dataVolume);
  });
  afterEach(() => rmSync(dataVolume, { recursive: true, force: true }));

  const embedded = { dataVolume: '', redis: { external: false } } as const;
  const prepare = () => prepareSecrets({ ...embedded, dataVolume } as Parameters<typeof prepareSecrets>[0]);

  it('creates every secret once, 0600 in a 0700 directory, and keeps them on the next run', async () => {
    const first = await prepare();
    expect(first.map((secret) => [secret.path.slice(dir.length + 1), secret.created])).toEqual([
      ['session.key', true],
      ['encryption.key', true],
      ['redis.password', true],
      ['token_signing_key.pem', true],
    ]);
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    for (const secret of first) expect((statSync(secret.path).mode & 0o777).toString(8)).toBe('600');
    const contents = first.map((secret) => readFileSync(secret.path, 'utf8'));
    expect(contents[0]).toMatch(/^[0-9a-f]{64}$/);

    const second = await prepare();
    expect(second.every((secret) => !secret.created)).toBe(true);
    expect(second.map((secret) => readFileSync(secret.path, 'utf8'))).toEqual(contents);
    // Nothing but the secrets: no temporary file is left behind.
    expect(readdirSync(dir).sort()).toEqual([
      'encryption.key',
      'redis.password',
      'session.key',
      'token_signing_key.pem',
    ]);
  });

  it('loads the encryption key wharf prepare made, the one stored credentials are sealed with', async () => {
    await prepare();
    const secrets = await loadCoreSecrets(dataVolume);
    expect(secrets.encryptionKey).toHaveLength(32);
    expect(secrets.encryptionKey.toString('hex')).toBe(readFileSync(join(dir, 'encryption.key'), 'utf8'));
    expect(secrets.encryptionKey.equals(secrets.sessionKey)).toBe(false);
  });

  it('agrees on one key when many processes create it at once, each reading a whole key', async () => {
    const results = await Promise.all(Array.from({ length: 24 }, () => loadCoreSecrets(dataVolume)));
    const keys = new Set(results.map((secrets) => secrets.sessionKey.toString('hex')));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBe(readFileSync(join(dir, 'session.key'), 'utf8'));
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('never shows another process an empty or partial key while creating one', async () => {
    // Another process reads every session.key under dataVolume/<n>/secret as fast as it can while keys are created.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const { readFileSync, readdirSync } = require('node:fs');
        const base = process.argv[1];
        let partial = 0, whole = 0;
        const read = () => {
          for (const name of readdirSync(base)) {
            let text;
            try { text = readFileSync(base + '/' + name + '/secret/session.key', 'utf8'); } catch { continue; }
            if (/^[0-9a-f]{64}$/.test(text)) whole++; else partial++;
          }
        };
        process.stdin.on('data', () => { read(); console.log(JSON.stringify({ partial, whole })); process.exit(0); });
        const spin = () => { const end = Date.now() + 20; while (Date.now() < end) read(); setImmediate(spin); };
        spin();`,
        dataVolume,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise((resolve) => reader.once('exit', resolve));
    for (let i = 0; i < 150; i++) await loadCoreSecrets(join(dataVolume, String(i)));
    reader.stdin.end('done\n');
    await exited;
    const counts = JSON.parse(output) as { partial: number; whole: number };
    expect(counts.partial).toBe(0);
    expect(counts.whole).toBeGreaterThanOrEqual(150);
  }, 60_000);

  it('ignores a temporary file a crash left behind', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, '.session.key.0123456789abcdef.tmp'), '0123', { mode: 0o600 });
    const secrets = await loadCoreSecrets(dataVolume);
    expect(secrets.sessionKey).toHaveLength(32);
    expect(readFileSync(join(dir, 'session.key'), 'utf8')).toBe(secrets.sessionKey.toString('hex'));
  });

  it('refuses an empty or partial key instead of replacing it', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'session.key'), '', { mode: 0o600 });
    await expect(loadCoreSecrets(dataVolume)).rejects.toThrow(/does not hold a 32-byte hex key; delete it/);
    expect(readFileSync(join(dir, 'session.key'), 'utf8')).toBe('');
  });

  it('refuses a key readable by others, and a key that is a symbolic link', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'session.key'), 'ab'.repeat(32), { mode: 0o600 });
    chmodSync(join(dir, 'session.key'), 0o644);
    await expect(loadCoreSecrets(dataVolume)).rejects.toThrow(/readable by other users \(mode 44\)/);
    rmSync(join(dir, 'session.key'));
    const elsewhere = join(dataVolume, 'elsewhere.key');
    writeFileSync(elsewhere, 'cd'.repeat(32), { mode: 0o600 });
    symlinkSync(elsewhere, join(dir, 'session.key'));
    await expect(loadCoreSecrets(dataVolume)).rejects.toThrow(/is a symbolic link/);
  });
});
