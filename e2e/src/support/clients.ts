import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode}):\n${stderr.trim() || stdout.trim()}`);
    this.name = 'CommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** Runs a binary without a shell; rejects with its stderr on a non-zero exit or after the timeout. */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = error.killed ? 'timeout' : (error.code ?? null);
          reject(new CommandError(`${file} ${args.join(' ')}`, code, stdout, stderr));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/**
 * Client configuration isolated from the host: a permissive signature policy and a registries.conf
 * without search registries, so only fully qualified names are used and nothing reaches the internet.
 */
export async function writeClientConfig(dir: string): Promise<{ policy: string; env: NodeJS.ProcessEnv }> {
  const policy = join(dir, 'policy.json');
  const registries = join(dir, 'registries.conf');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(registries, 'unqualified-search-registries = []\n');
  // An empty credentials file keeps the host's logins (and any credential helper) out of the tests.
  await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: {} }));
  return {
    policy,
    env: { CONTAINERS_REGISTRIES_CONF: registries, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), TMPDIR: dir },
  };
}

export interface SkopeoInspection {
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
}

export class Skopeo {
  private constructor(
    private readonly policy: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(configDir: string): Promise<Skopeo> {
    const { policy, env } = await writeClientConfig(configDir);
    return new Skopeo(policy, env);
  }

  async run(args: string[], timeoutMs?: number): Promise<string> {
    const { stdout } = await run('skopeo', ['--policy', this.policy, ...args], { env: this.env, timeoutMs });
    return stdout;
  }

  /** Copies between any two transports; registry ends talk plain HTTP. */
  async copy(source: string, destination: string, extra: string[] = []): Promise<void> {
    await this.run([
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...extra,
      source,
      destination,
    ]);
  }

  async inspectRaw(reference: string): Promise<Buffer> {
    const { stdout } = await runBuffer('skopeo', [
      '--policy',
      this.policy,
      'inspect',
      '--raw',
      '--tls-verify=false',
      reference,
    ]);
    return stdout;
  }

  async inspect(reference: string, extra: string[] = []): Promise<SkopeoInspection> {
    return JSON.parse(await this.run([...extra, 'inspect', '--tls-verify=false', reference])) as SkopeoInspection;
  }

  async listTags(repository: string): Promise<string[]> {
    const parsed = JSON.parse(await this.run(['list-tags', '--tls-verify=false', repository])) as { Tags: string[] };
    return parsed.Tags;
  }

  async delete(reference: string): Promise<void> {
    await this.run(['delete', '--tls-verify=false', reference]);
  }
}

/** Like run(), but keeps stdout as raw bytes (manifests must be hashed exactly as served). */
function runBuffer(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...env }, timeout: DEFAULT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (error, stdout, stderr) => {
        if (error) reject(new CommandError(`${file} ${args.join(' ')}`, error.code ?? null, '', stderr.toString()));
        else resolve({ stdout });
      },
    );
  });
}

/**
 * podman or buildah on a private vfs store under `dir`, so tests never touch the host's images and
 * need no kernel overlay support.
 */
export class ContainerTool {
  private constructor(
    private readonly binary: 'podman' | 'buildah',
    private readonly globalArgs: string[],
    private readonly env: NodeJS.ProcessEnv,
    /** Pass as `--signature-policy` to commands that pull, push or commit. */
    readonly policy: string,
  ) {}

  static async create(binary: 'podman' | 'buildah', dir: string): Promise<ContainerTool> {
    const { policy, env } = await writeClientConfig(dir);
    const storage = ['--storage-driver', 'vfs', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot')];
    const globalArgs =
      binary === 'podman'
        ? [...storage, '--events-backend', 'file', '--cgroup-manager', 'cgroupfs', '--tmpdir', join(dir, 'libpod')]
        : storage;
    return new ContainerTool(binary, globalArgs, env, policy);
  }

  async run(args: string[], timeoutMs?: number): Promise<string> {
    const { stdout } = await run(this.binary, [...this.globalArgs, ...args], { env: this.env, timeoutMs });
    return stdout.trim();
  }

  /** Pushes with plain HTTP and returns the manifest digest the tool reports. */
  async push(image: string, destination: string, digestFile: string): Promise<string> {
    await this.run([
      'push',
      '--tls-verify=false',
      '--signature-policy',
      this.policy,
      '--digestfile',
      digestFile,
      image,
      destination,
    ]);
    return (await readFile(digestFile, 'utf8')).trim();
  }
}
