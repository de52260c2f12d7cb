import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

const execFileAsync = promisify(execFile);

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'apps/cli/dist/main.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without WHARF__ overrides, so the developer's own settings cannot change the outcome. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('WHARF__')));
  return { ...env, ...extra };
}

async function wharf(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw error;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

describe('wharf verify-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-cli-'));

  beforeAll(async () => {
    await execFileAsync('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT });
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the example configuration', async () => {
    const result = await wharf(['verify-config', 'harbor.yml.example']);
    expect(result.stdout).toBe('harbor.yml.example: OK\n');
    expect(result.code).toBe(0);
  });

  it('fails on a misspelled key and names it', async () => {
    const file = join(dir, 'typo.yml');
    writeFileSync(
      file,
      'hostname: reg.example.com\nharbor_admin_password: a\ndatabase:\n  password: b\nhttp:\n  prot: 80\n',
    );
    const result = await wharf(['verify-config', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}: 1 problem`);
    expect(result.stderr).toContain('http.prot: unknown key; did you mean "port"?');
  });

  it('reports each file and fails when any of them is invalid', async () => {
    const result = await wharf(['verify-config', 'harbor.yml.example', join(dir, 'missing.yml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('harbor.yml.example: OK\n');
    expect(result.stderr).toContain('missing.yml: 1 problem\n  - cannot read the file');
  });

  it('checks environment overrides unless told not to', async () => {
    const overridden = await wharf(['verify-config', 'harbor.yml.example'], { WHARF__HTTP__PORT: 'eighty' });
    expect(overridden.code).toBe(1);
    expect(overridden.stderr).toContain('http.port: expected an integer between 1 and 65535, got "eighty"');
    expect(overridden.stderr).toContain('(set by WHARF__HTTP__PORT)');

    const fileOnly = await wharf(['verify-config', '--no-env', 'harbor.yml.example'], { WHARF__HTTP__PORT: 'eighty' });
    expect(fileOnly.code).toBe(0);
  });

  it('prints warnings for valid but risky settings', async () => {
    const file = join(dir, 'open.yml');
    writeFileSync(
      file,
      'hostname: localhost\nharbor_admin_password: a\ndatabase:\n  password: b\nregistry:\n  auth: none\n',
    );
    const result = await wharf(['verify-config', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${file}: OK\n`);
    expect(result.stderr).toContain(`${file}: warning: registry.auth: none`);
  });

  it.each([[[]], [['verify-config']], [['verify-config', '--bogus', 'harbor.yml.example']], [['no-such-command']]])(
    'exits with 2 on the usage error %j',
    async (args) => {
      const result = await wharf(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/Usage: wharf/);
    },
  );
});
