/*
 * The built-in scanner: runs the `trivy` binary through execa against an artifact in Wharf's registry. Credentials
 * reach Trivy through its environment only (TRIVY_USERNAME / TRIVY_PASSWORD or TRIVY_REGISTRY_TOKEN), never its
 * arguments; the child's environment is built explicitly, not inherited.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { z } from 'zod';
import { ScannerMime, type ScannerAdapterMetadata, type ScannerInfo } from '../types.js';
import {
  TRIVY_SEVERITIES,
  type TrivyReport,
  type TrivySeverity,
  type TrivyVersion,
  trivyReportSchema,
  trivyVersionSchema,
} from './trivy-report.schema.js';

/** How the built-in scanner runs Trivy: harbor.yml's `trivy:` section, plus the binary and its cache. */
export interface TrivyScannerConfig {
  /** The trivy executable: a path, or a name looked up on PATH. Default `trivy`. */
  binary?: string;
  /** Trivy's cache (vulnerability DB and layer cache), kept between scans. Default: Trivy's own (~/.cache/trivy). */
  cacheDir?: string;
  ignoreUnfixed?: boolean;
  /** Do not update the vulnerability DB before scanning (`--skip-db-update`). */
  skipUpdate?: boolean;
  skipJavaDbUpdate?: boolean;
  offlineScan?: boolean;
  /** `--scanners`: comma-separated, default `vuln`. */
  securityCheck?: string;
  /** Allow plain HTTP and unverified TLS towards the registry. */
  insecure?: boolean;
  /** A Go duration, default `5m0s`. */
  timeout?: string;
  /** Severities reported; all by default. */
  severities?: TrivySeverity[];
  /** Extra environment for the child (e.g. proxies); merged over the built environment, never logged. */
  env?: Record<string, string>;
}

export type RegistryAuth = { token: string } | { username: string; password: string };

export interface ScanTarget {
  /** `host[:port]` of the registry as Trivy reaches it. */
  registryHost: string;
  /** Plain HTTP / unverified TLS for this registry (or-ed with the configuration's `insecure`). */
  insecure?: boolean;
  repository: string;
  digest: string;
  tag?: string;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  /** Each line Trivy writes to stderr, as it comes. */
  onLog?: (line: string) => void;
}

export type SbomFormat = 'cyclonedx' | 'spdx-json';

export type Availability = { ok: true } | { ok: false; reason: string };

/** Trivy cannot run: the binary is missing or does not answer as Trivy. */
export class ScannerUnavailableError extends Error {
  override readonly name = 'ScannerUnavailableError';
  constructor(readonly reason: string) {
    super(`trivy is unavailable: ${reason}`);
  }
}

/** A scan ran and failed; `reason` is the end of Trivy's log (or why it was stopped). */
export class ScanFailedError extends Error {
  override readonly name = 'ScanFailedError';
  constructor(
    readonly reason: string,
    readonly details: { exitCode?: number; timedOut: boolean; canceled: boolean; log: string },
  ) {
    super(`trivy scan failed: ${reason}`);
  }
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/;
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
/** Environment variables passed through to Trivy from Wharf's own: what a Go program needs to run and reach out. */
const PASSTHROUGH_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'XDG_CACHE_HOME',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];
const LOG_TAIL = 2000;

function goDurationMs(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(value) * units[unit];
  return total;
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > LOG_TAIL ? `…${trimmed.slice(-LOG_TAIL)}` : trimmed;
}

interface RunOptions {
  env?: Record<string, string>;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
  /** Kill the child after this long, whatever Trivy's own timeout does. */
  timeoutMs?: number;
}

export class TrivyScanner {
  readonly binary: string;
  private readonly timeout: string;
  private readonly severities: TrivySeverity[];
  private readonly securityCheck: string;

  constructor(private readonly config: TrivyScannerConfig = {}) {
    this.binary = config.binary ?? 'trivy';
    this.timeout = config.timeout ?? '5m0s';
    if (!GO_DURATION.test(this.timeout)) throw new TypeError(`trivy timeout is not a Go duration: ${this.timeout}`);
    this.severities = config.severities ?? [...TRIVY_SEVERITIES];
    for (const severity of this.severities) {
      if (!(TRIVY_SEVERITIES as readonly string[]).includes(severity))
        throw new TypeError(`unknown severity ${severity}`);
    }
    this.securityCheck = config.securityCheck ?? 'vuln';
    if (!/^[a-z]+(,[a-z]+)*$/.test(this.securityCheck)) {
      throw new TypeError(`trivy security_check must be a comma-separated list: ${this.securityCheck}`);
    }
  }

  private baseEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const key of PASSTHROUGH_ENV) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    return { ...env, ...this.config.env };
  }

  private commonFlags(): string[] {
    return [...(this.config.cacheDir ? ['--cache-dir', this.config.cacheDir] : []), '--quiet'];
  }

  private dbFlags(): string[] {
    return [
      ...(this.config.skipUpdate ? ['--skip-db-update'] : []),
      ...(this.config.skipJavaDbUpdate ? ['--skip-java-db-update'] : []),
      ...(this.config.offlineScan ? ['--offline-scan'] : []),
    ];
  }

  private async run(args: string[], options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
    const subprocess = execa(this.binary, args, {
      env: { ...this.baseEnv(), ...options.env },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      cancelSignal: options.signal,
      timeout: options.timeoutMs,
      forceKillAfterDelay: 5000,
      maxBuffer: 256 * 1024 * 1024,
      stripFinalNewline: false,
    });
    if (options.onLog) {
      let pending = '';
      subprocess.stderr?.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) options.onLog?.(line);
      });
      subprocess.stderr?.on('end', () => {
        if (pending) options.onLog?.(pending);
      });
    }
    const result = await subprocess;
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    if ((result as { code?: string }).code === 'ENOENT') {
      throw new ScannerUnavailableError(`the trivy binary ${JSON.stringify(this.binary)} was not found`);
    }
    if ((result as { code?: string }).code === 'EACCES') {
      throw new ScannerUnavailableError(`the trivy binary ${JSON.stringify(this.binary)} is not executable`);
    }
    if (result.failed) {
      const details = {
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        canceled: result.isCanceled,
        log: tail(stderr),
      };
      const reason = result.isCanceled
        ? 'the scan was stopped'
        : result.timedOut
          ? `the scan did not finish within ${this.timeout}`
          : details.log || `trivy exited with ${result.exitCode ?? result.signal}`;
      throw new ScanFailedError(reason, details);
    }
    return { stdout: typeof result.stdout === 'string' ? result.stdout : '', stderr };
  }

  /** Trivy's version and vulnerability DB, from `trivy --version --format json`. */
  async version(): Promise<TrivyVersion> {
    let output: { stdout: string };
    try {
      output = await this.run(['--version', '--format', 'json', ...this.commonFlags()], { timeoutMs: 30_000 });
    } catch (error) {
      if (error instanceof ScanFailedError)
        throw new ScannerUnavailableError(`trivy --version failed: ${error.reason}`);
      throw error;
    }
    return parseJson(
      trivyVersionSchema,
      output.stdout,
      'trivy --version',
      (message) => new ScannerUnavailableError(message),
    );
  }

  async available(): Promise<Availability> {
    try {
      await this.version();
      return { ok: true };
    } catch (error) {
      if (error instanceof ScannerUnavailableError) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  async scannerInfo(): Promise<ScannerInfo> {
    const version = await this.version();
    return { name: 'Trivy', vendor: 'Aqua Security', version: version.Version };
  }

  /** The Scanner Adapter API's metadata of the built-in scanner, as Harbor's Trivy adapter gives it. */
  async metadata(): Promise<ScannerAdapterMetadata> {
    const version = await this.version();
    const db = version.VulnerabilityDB;
    const consumes = [
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ];
    return {
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: version.Version },
      capabilities: [
        {
          type: 'vulnerability',
          consumes_mime_types: consumes,
          produces_mime_types: [ScannerMime.VulnerabilityReport],
        },
        { type: 'sbom', consumes_mime_types: consumes, produces_mime_types: [ScannerMime.SbomReport] },
      ],
      properties: {
        'harbor.scanner-adapter/scanner-type': 'os-package-vulnerability',
        ...(db?.UpdatedAt ? { 'harbor.scanner-adapter/vulnerability-database-updated-at': db.UpdatedAt } : {}),
        ...(db?.NextUpdate ? { 'harbor.scanner-adapter/vulnerability-database-next-update-at': db.NextUpdate } : {}),
        'org.label-schema.version': version.Version,
        'env.SCANNER_TRIVY_SKIP_UPDATE': String(this.config.skipUpdate ?? false),
        'env.SCANNER_TRIVY_SKIP_JAVA_DB_UPDATE': String(this.config.skipJavaDbUpdate ?? false),
        'env.SCANNER_TRIVY_OFFLINE_SCAN': String(this.config.offlineScan ?? false),
        'env.SCANNER_TRIVY_IGNORE_UNFIXED': String(this.config.ignoreUnfixed ?? false),
        'env.SCANNER_TRIVY_INSECURE': String(this.config.insecure ?? false),
        'env.SCANNER_TRIVY_SECURITY_CHECKS': this.securityCheck,
        'env.SCANNER_TRIVY_SEVERITY': this.severities.join(','),
        'env.SCANNER_TRIVY_TIMEOUT': this.timeout,
      },
    };
  }

  private imageArgs(target: ScanTarget): { reference: string; env: Record<string, string>; insecure: boolean } {
    if (!HOST.test(target.registryHost)) throw new TypeError(`invalid registry host: ${target.registryHost}`);
    if (!REPOSITORY.test(target.repository)) throw new TypeError(`invalid repository: ${target.repository}`);
    if (!DIGEST.test(target.digest)) throw new TypeError(`invalid digest: ${target.digest}`);
    const env: Record<string, string> = {};
    const auth = target.auth;
    if (auth && 'token' in auth) env.TRIVY_REGISTRY_TOKEN = auth.token;
    else if (auth) {
      env.TRIVY_USERNAME = auth.username;
      env.TRIVY_PASSWORD = auth.password;
    }
    return {
      // By digest, so that the scan reads exactly the artifact asked for, whatever the tag points to now.
      reference: `${target.registryHost}/${target.repository}@${target.digest}`,
      env,
      insecure: (target.insecure ?? false) || (this.config.insecure ?? false),
    };
  }

  private runOptions(target: Pick<ScanTarget, 'signal' | 'onLog'>, env: Record<string, string> = {}): RunOptions {
    // Trivy stops itself at --timeout; the child is killed a little later if it does not.
    return { env, signal: target.signal, onLog: target.onLog, timeoutMs: goDurationMs(this.timeout) + 30_000 };
  }

  private async withOutputFile<T>(run: (output: string, dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-trivy-'));
    try {
      return await run(join(dir, 'report.json'), dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private vulnerabilityFlags(): string[] {
    return [
      '--scanners',
      this.securityCheck,
      '--severity',
      this.severities.join(','),
      ...(this.config.ignoreUnfixed ? ['--ignore-unfixed'] : []),
      ...this.dbFlags(),
    ];
  }

  /** `trivy image --format json` of the artifact: Trivy's report, validated. */
  async scanImage(target: ScanTarget): Promise<TrivyReport> {
    const { reference, env, insecure } = this.imageArgs(target);
    return this.withOutputFile(async (output) => {
      await this.run(
        [
          'image',
          '--format',
          'json',
          '--output',
          output,
          '--timeout',
          this.timeout,
          '--no-progress',
          ...this.vulnerabilityFlags(),
          ...(insecure ? ['--insecure'] : []),
          ...this.commonFlags(),
          reference,
        ],
        this.runOptions(target, env),
      );
      return parseJson(trivyReportSchema, await readOutput(output), 'trivy image', scanFailed);
    });
  }

  /** `trivy image --format cyclonedx|spdx-json` of the artifact: the SBOM document as Trivy writes it. */
  async generateSbom(target: ScanTarget, format: SbomFormat): Promise<Record<string, unknown>> {
    if (format !== 'cyclonedx' && format !== 'spdx-json') throw new TypeError(`unknown SBOM format ${String(format)}`);
    const { reference, env, insecure } = this.imageArgs(target);
    return this.withOutputFile(async (output) => {
      await this.run(
        [
          'image',
          '--format',
          format,
          '--output',
          output,
          '--timeout',
          this.timeout,
          '--no-progress',
          ...(insecure ? ['--insecure'] : []),
          ...this.commonFlags(),
          reference,
        ],
        this.runOptions(target, env),
      );
      const document = parseObject(await readOutput(output), 'trivy image');
      const ok =
        format === 'cyclonedx'
          ? document.bomFormat === 'CycloneDX'
          : typeof document.spdxVersion === 'string' && document.spdxVersion.startsWith('SPDX-');
      if (!ok) throw scanFailed(`trivy image wrote no ${format} document`);
      return document;
    });
  }

  /** `trivy sbom` of a stored SBOM (CycloneDX or SPDX JSON): the vulnerabilities of its packages, no image pulled. */
  async scanSbom(
    sbom: Record<string, unknown> | string,
    options: Pick<ScanTarget, 'signal' | 'onLog'> = {},
  ): Promise<TrivyReport> {
    const text = typeof sbom === 'string' ? sbom : JSON.stringify(sbom);
    return this.withOutputFile(async (output, dir) => {
      const input = join(dir, 'sbom.json');
      await writeFile(input, text, { mode: 0o600 });
      await this.run(
        [
          'sbom',
          '--format',
          'json',
          '--output',
          output,
          '--timeout',
          this.timeout,
          ...this.vulnerabilityFlags(),
          ...this.commonFlags(),
          input,
        ],
        this.runOptions(options),
      );
      return parseJson(trivyReportSchema, await readOutput(output), 'trivy sbom', scanFailed);
    });
  }
}

function scanFailed(message: string): ScanFailedError {
  return new ScanFailedError(message, { timedOut: false, canceled: false, log: '' });
}

async function readOutput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw scanFailed('trivy exited successfully but wrote no report');
  }
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw scanFailed(`${what} wrote output that is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw scanFailed(`${what} wrote no JSON object`);
  return value as Record<string, unknown>;
}

function parseJson<S extends z.ZodType>(
  schema: S,
  text: string,
  what: string,
  error: (message: string) => Error,
): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw error(`${what} wrote output that is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw error(`${what} wrote an unexpected document: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
