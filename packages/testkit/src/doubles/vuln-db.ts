/*
 * The vulnerability data of the Trivy test double: a small JSON file (fixtures/wharf-double-db.json) of advisories
 * keyed by ecosystem (`debian 12`, `alpine 3.19`) and source package, and the matching of installed packages
 * against it with each ecosystem's version ordering.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareApkVersions, compareDpkgVersions } from './versions.js';

export const TRIVY_SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type TrivySeverity = (typeof TRIVY_SEVERITIES)[number];

export interface DoubleDbMetadata {
  Version: number;
  UpdatedAt: string;
  NextUpdate: string;
  DownloadedAt?: string;
}

export interface Advisory {
  Ecosystem: string;
  SourcePackage: string;
  VulnerabilityID: string;
  /** Absent: no fix yet, every version is affected. */
  FixedVersion?: string;
  Severity: TrivySeverity;
  SeveritySource: string;
  VendorSeverity: Record<string, number>;
  Title: string;
  Description: string;
  CweIDs: string[];
  CVSS?: Record<string, { V3Vector?: string; V3Score?: number; V2Vector?: string; V2Score?: number }>;
  References: string[];
  PublishedDate: string;
  LastModifiedDate: string;
}

export interface DoubleDb {
  Metadata: DoubleDbMetadata;
  Advisories: Advisory[];
}

/** The file name the double reads under `<cache-dir>/db/`. */
export const DOUBLE_DB_FILE = 'wharf-double-db.json';

/** The fixture data file shipped with the testkit. */
export function fixtureDbPath(): string {
  // dist/doubles/ or src/doubles/ → the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', DOUBLE_DB_FILE);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** Parses and checks a data file; throws naming what is wrong. */
export function parseDoubleDb(text: string, source: string): DoubleDb {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not JSON (${(error as Error).message})`, { cause: error });
  }
  const db = value as Partial<DoubleDb>;
  const meta = db?.Metadata;
  if (!meta || typeof meta.Version !== 'number' || !isString(meta.UpdatedAt) || !isString(meta.NextUpdate)) {
    throw new Error(`${source}: Metadata needs Version, UpdatedAt and NextUpdate`);
  }
  if (!Array.isArray(db.Advisories)) throw new Error(`${source}: Advisories must be an array`);
  for (const [i, advisory] of db.Advisories.entries()) {
    const ok =
      isString(advisory?.Ecosystem) &&
      isString(advisory.SourcePackage) &&
      isString(advisory.VulnerabilityID) &&
      (advisory.FixedVersion === undefined || isString(advisory.FixedVersion)) &&
      (TRIVY_SEVERITIES as readonly string[]).includes(advisory.Severity);
    if (!ok) throw new Error(`${source}: Advisories[${i}] needs Ecosystem, SourcePackage, VulnerabilityID, Severity`);
  }
  return db as DoubleDb;
}

export async function loadDoubleDb(path: string): Promise<DoubleDb> {
  return parseDoubleDb(await readFile(path, 'utf8'), path);
}

export type PackageFamily = 'debian' | 'alpine';

/** An installed OS package, as the analyzers of dpkg's status and apk's installed database read it. */
export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
  srcName: string;
  srcVersion: string;
  /** The layer that first holds this package at this version. */
  layer?: { Digest?: string; DiffID?: string };
}

/** The advisory key of an OS: Debian by major version, Alpine by major.minor, as Trivy's DB buckets them. */
export function ecosystemOf(family: PackageFamily, osName: string): string {
  const parts = osName.split('.');
  return family === 'debian' ? `debian ${parts[0]}` : `alpine ${parts.slice(0, 2).join('.')}`;
}

export interface Match {
  pkg: InstalledPackage;
  advisory: Advisory;
}

/**
 * Advisories that apply to the packages: the installed (source) version is below the fixed one, or there is no fix
 * (skipped with `ignoreUnfixed`).
 */
export function matchAdvisories(
  db: DoubleDb,
  family: PackageFamily,
  osName: string,
  packages: InstalledPackage[],
  options: { ignoreUnfixed: boolean },
): Match[] {
  const ecosystem = ecosystemOf(family, osName);
  const bySource = new Map<string, Advisory[]>();
  for (const advisory of db.Advisories) {
    if (advisory.Ecosystem !== ecosystem) continue;
    const list = bySource.get(advisory.SourcePackage) ?? [];
    list.push(advisory);
    bySource.set(advisory.SourcePackage, list);
  }
  const compare = family === 'debian' ? compareDpkgVersions : compareApkVersions;
  const matches: Match[] = [];
  for (const pkg of packages) {
    for (const advisory of bySource.get(pkg.srcName) ?? []) {
      if (advisory.FixedVersion === undefined || advisory.FixedVersion === '') {
        if (!options.ignoreUnfixed) matches.push({ pkg, advisory });
      } else if (compare(pkg.srcVersion, advisory.FixedVersion) < 0) {
        matches.push({ pkg, advisory });
      }
    }
  }
  return matches;
}
