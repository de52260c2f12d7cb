import { execa } from 'execa';
import { type WharfConfig } from '@wharf/config';
import {
  type ScannerAdapterMetadata,
  ScannerMime,
  ScannerUnavailableError,
  type TrivyScanner,
  type TrivyScannerConfig,
} from '@wharf/scanner';

/** Nest token of the BuiltInScanner: the scanner Wharf runs itself, registered as `Trivy` (url `builtin:trivy`). */
export const BUILT_IN_SCANNER = Symbol('BUILT_IN_SCANNER');

/** Nest token of the TrivyScanner built from harbor.yml's `trivy:` section, which runs the built-in scans. */
export const TRIVY_SCANNER = Symbol('TRIVY_SCANNER');

/** A duration in milliseconds as Go writes one (Trivy's --timeout): `300s`, or `1500ms` below whole seconds. */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.ceil(ms)}ms`;
}

/** How the built-in scanner runs Trivy, from harbor.yml's `trivy:` section. */
export function trivyScannerConfig(trivy: WharfConfig['trivy']): TrivyScannerConfig {
  return {
    binary: trivy.binary,
    cacheDir: trivy.cacheDir,
    ignoreUnfixed: trivy.ignoreUnfixed,
    skipUpdate: trivy.skipUpdate,
    skipJavaDbUpdate: trivy.skipJavaDbUpdate,
    offlineScan: trivy.offlineScan,
    securityCheck: trivy.securityChecks.join(','),
    insecure: trivy.insecure,
    timeout: goDuration(trivy.timeoutMs),
  };
}

export type ScannerAvailability = { ok: true } | { ok: false; reason: string };

/**
 * The built-in scanner as the scanner registrations see it: what it is (its metadata, as an adapter would answer
 * GET /api/v1/metadata) and whether it can scan now.
 */
export interface BuiltInScanner {
  /** Rejects with the reason when the scanner is unavailable. */
  metadata(): Promise<ScannerAdapterMetadata>;
  available(): Promise<ScannerAvailability>;
}

/** Manifest types Trivy reads images from. */
const CONSUMES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];

/** The metadata of the built-in Trivy scanner at `version`, with the date of its vulnerability database if known. */
export function builtInTrivyMetadata(version: string, databaseUpdatedAt?: string): ScannerAdapterMetadata {
  return {
    scanner: { name: 'Trivy', vendor: 'Aqua Security', version },
    capabilities: [
      {
        type: 'vulnerability',
        consumes_mime_types: CONSUMES,
        produces_mime_types: [ScannerMime.VulnerabilityReport, ScannerMime.HarborVulnerabilityReport],
      },
      { type: 'sbom', consumes_mime_types: CONSUMES, produces_mime_types: [ScannerMime.SbomReport] },
    ],
    properties: {
      'harbor.scanner-adapter/scanner-type': 'os-package-vulnerability',
      ...(databaseUpdatedAt ? { 'harbor.scanner-adapter/vulnerability-database-updated-at': databaseUpdatedAt } : {}),
    },
  };
}

/** How long an answer of the binary is reused: health checks and metadata reads do not start a process each. */
const CACHE_MS = 30_000;

/** A built-in scanner whose metadata comes from running a binary: a success is kept for a while. */
abstract class CachedMetadata implements BuiltInScanner {
  private cached: { at: number; result: Promise<ScannerAdapterMetadata> } | undefined;

  protected abstract probe(): Promise<ScannerAdapterMetadata>;

  /** A success is reused for a while; a failure is not, so trivy installed meanwhile is seen at the next ask. */
  metadata(): Promise<ScannerAdapterMetadata> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CACHE_MS) {
      const result = this.probe();
      const entry = { at: now, result };
      this.cached = entry;
      result.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.result;
  }

  async available(): Promise<ScannerAvailability> {
    try {
      await this.metadata();
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  }
}

/**
 * The built-in scanner of a running Wharf: the TrivyScanner that runs the scans, asked for its metadata
 * (`trivy --version`); unavailable, with the reason, when the binary is missing or does not answer as Trivy.
 */
export class TrivyBuiltInScanner extends CachedMetadata {
  constructor(private readonly trivy: TrivyScanner) {
    super();
  }

  protected async probe(): Promise<ScannerAdapterMetadata> {
    try {
      return await this.trivy.metadata();
    } catch (error) {
      if (error instanceof ScannerUnavailableError) throw new Error(error.reason, { cause: error });
      throw error;
    }
  }
}

/**
 * A lighter built-in scanner for tests of the registrations: asks a binary for its version
 * (`trivy --version --format json`) and is unavailable, with the reason, when the binary is missing or fails.
 */
export class TrivyBinaryProbe extends CachedMetadata {
  constructor(
    /** The trivy executable: a path, or a name looked up on PATH. */
    private readonly binary = 'trivy',
    private readonly timeoutMs = 10_000,
  ) {
    super();
  }

  protected async probe(): Promise<ScannerAdapterMetadata> {
    let stdout: string;
    try {
      ({ stdout } = await execa(this.binary, ['--version', '--format', 'json'], {
        timeout: this.timeoutMs,
        stdin: 'ignore',
        // Trivy prints no secret here, but nothing of Wharf's environment needs to reach it either.
        extendEnv: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
      }));
    } catch (error) {
      const failure = error as { code?: string; timedOut?: boolean; exitCode?: number; stderr?: string };
      if (failure.code === 'ENOENT')
        throw new Error(`trivy is not installed (${this.binary} not found)`, { cause: error });
      if (failure.timedOut)
        throw new Error(`${this.binary} --version did not answer within ${this.timeoutMs} ms`, { cause: error });
      const detail = failure.stderr?.trim().split('\n').at(-1)?.slice(0, 200) ?? '';
      throw new Error(
        `${this.binary} --version failed (exit code ${failure.exitCode ?? '?'})${detail ? `: ${detail}` : ''}`,
        { cause: error },
      );
    }
    let parsed: { Version?: unknown; VulnerabilityDB?: { UpdatedAt?: unknown } };
    try {
      parsed = JSON.parse(stdout) as typeof parsed;
    } catch {
      throw new Error(`${this.binary} --version --format json printed no JSON: is it trivy?`);
    }
    if (typeof parsed.Version !== 'string' || parsed.Version === '') {
      throw new Error(`${this.binary} --version --format json names no Version: is it trivy?`);
    }
    const updatedAt = parsed.VulnerabilityDB?.UpdatedAt;
    return builtInTrivyMetadata(parsed.Version, typeof updatedAt === 'string' ? updatedAt : undefined);
  }
}
