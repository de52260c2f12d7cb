/*
 * TEST DOUBLE of the `trivy` command line (Aqua Security's scanner), for tests only; run as `packages/testkit/bin/trivy`.
 *
 * It takes Trivy's arguments and environment and answers in Trivy's formats, but it is not Trivy: it really pulls the
 * image from the registry, reads its OS and installed packages (dpkg status, apk installed database), and matches
 * them against a small vulnerability data file (`<cache-dir>/db/wharf-double-db.json`, fixtures/ in this package)
 * instead of Trivy's database. "Updating the database" copies the file named by TRIVY_DOUBLE_DB_SOURCE into the
 * cache; without it the update fails as Trivy's does offline. TRIVY_DOUBLE_DELAY (a Go duration) makes it wait
 * before scanning, so tests can exercise timeouts and cancellation.
 *
 * Supported: `trivy --version [--format json]`, `trivy version [--format json]`,
 * `trivy image [flags] HOST/REPO[:TAG][@DIGEST]`, `trivy sbom [flags] FILE`. Registries are reached over HTTPS, or
 * over plain HTTP with `--insecure` / TRIVY_INSECURE=true.
 */
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DoubleError, parseImageReference, pullImage } from './image-source.js';
import {
  DOUBLE_TRIVY_VERSION,
  type ScanSubject,
  cycloneDx,
  spdxJson,
  subjectFromSbom,
  vulnerabilityReport,
} from './reports.js';
import {
  DOUBLE_DB_FILE,
  type DoubleDbMetadata,
  TRIVY_SEVERITIES,
  type TrivySeverity,
  loadDoubleDb,
} from './vuln-db.js';

type FlagKind = 'string' | 'bool';

/** Flags the double knows, by long name, with their shorthand; each may also come from TRIVY_<NAME>. */
const FLAGS: Record<
  string,
  { kind: FlagKind; short?: string; commands: Array<'root' | 'image' | 'sbom' | 'version'> }
> = {
  version: { kind: 'bool', short: 'v', commands: ['root'] },
  format: { kind: 'string', short: 'f', commands: ['root', 'image', 'sbom', 'version'] },
  output: { kind: 'string', short: 'o', commands: ['image', 'sbom'] },
  'cache-dir': { kind: 'string', commands: ['root', 'image', 'sbom', 'version'] },
  timeout: { kind: 'string', commands: ['root', 'image', 'sbom'] },
  severity: { kind: 'string', short: 's', commands: ['image', 'sbom'] },
  'ignore-unfixed': { kind: 'bool', commands: ['image', 'sbom'] },
  'skip-db-update': { kind: 'bool', commands: ['image', 'sbom'] },
  'skip-update': { kind: 'bool', commands: ['image', 'sbom'] },
  'skip-java-db-update': { kind: 'bool', commands: ['image', 'sbom'] },
  'offline-scan': { kind: 'bool', commands: ['image', 'sbom'] },
  scanners: { kind: 'string', commands: ['image', 'sbom'] },
  'security-checks': { kind: 'string', commands: ['image', 'sbom'] },
  'vuln-type': { kind: 'string', commands: ['image', 'sbom'] },
  'pkg-types': { kind: 'string', commands: ['image', 'sbom'] },
  insecure: { kind: 'bool', commands: ['root', 'image', 'sbom'] },
  'no-progress': { kind: 'bool', commands: ['image', 'sbom'] },
  quiet: { kind: 'bool', short: 'q', commands: ['root', 'image', 'sbom', 'version'] },
  debug: { kind: 'bool', short: 'd', commands: ['root', 'image', 'sbom', 'version'] },
  username: { kind: 'string', commands: ['image'] },
  password: { kind: 'string', commands: ['image'] },
  'registry-token': { kind: 'string', commands: ['image'] },
};

class UsageError extends Error {}

interface Parsed {
  command: 'root' | 'image' | 'sbom' | 'version';
  flags: Map<string, string>;
  args: string[];
}

function parseArgs(argv: string[]): Parsed {
  let command: Parsed['command'] = 'root';
  const flags = new Map<string, string>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const long = arg.startsWith('--');
      const [rawName, inline] = long
        ? splitOnce(arg.slice(2), '=')
        : [arg.slice(1, 2), arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined];
      const name = long ? rawName : Object.keys(FLAGS).find((key) => FLAGS[key].short === rawName);
      const spec = name ? FLAGS[name] : undefined;
      if (!name || !spec || (!spec.commands.includes(command) && !spec.commands.includes('root'))) {
        throw new UsageError(long ? `unknown flag: --${rawName}` : `unknown shorthand flag: '${rawName}' in ${arg}`);
      }
      if (spec.kind === 'bool') {
        if (inline !== undefined && !['true', 'false'].includes(inline)) {
          throw new UsageError(
            `invalid argument "${inline}" for "--${name}" flag: strconv.ParseBool: parsing "${inline}": invalid syntax`,
          );
        }
        flags.set(name, inline ?? 'true');
      } else {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`flag needs an argument: --${name}`);
        flags.set(name, value);
      }
      continue;
    }
    if (command === 'root' && args.length === 0 && ['image', 'i', 'sbom', 'version'].includes(arg)) {
      command = arg === 'i' ? 'image' : (arg as Parsed['command']);
      continue;
    }
    args.push(arg);
  }
  return { command, flags, args };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function flag(parsed: Parsed, name: string): string | undefined {
  return parsed.flags.get(name) ?? process.env[`TRIVY_${name.toUpperCase().replace(/-/g, '_')}`];
}

function boolFlag(parsed: Parsed, name: string): boolean {
  const value = flag(parsed, name);
  if (value === undefined || value === '') return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new UsageError(`invalid boolean for ${name}: ${value}`);
}

/** Go's time.ParseDuration, in milliseconds. */
function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (text === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) throw new UsageError(`time: invalid duration "${text}"`);
  let total = 0;
  for (const [, value, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(value) * units[unit];
  return total;
}

const quietState = { quiet: false };

function log(level: 'INFO' | 'WARN' | 'DEBUG', message: string): void {
  if (quietState.quiet) return;
  process.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\t${level}\t${message}\n`);
}

function cacheDirOf(parsed: Parsed): string {
  return flag(parsed, 'cache-dir') ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'trivy');
}

async function dbMetadata(cacheDir: string): Promise<DoubleDbMetadata | undefined> {
  try {
    const db = await loadDoubleDb(join(cacheDir, 'db', DOUBLE_DB_FILE));
    const downloaded = JSON.parse(await readFile(join(cacheDir, 'db', 'metadata.json'), 'utf8').catch(() => '{}')) as {
      DownloadedAt?: string;
    };
    return { ...db.Metadata, DownloadedAt: downloaded.DownloadedAt ?? db.Metadata.UpdatedAt };
  } catch {
    return undefined;
  }
}

async function printVersion(parsed: Parsed): Promise<void> {
  const format = flag(parsed, 'format') ?? 'table';
  const meta = await dbMetadata(cacheDirOf(parsed));
  if (format === 'json') {
    const db = meta && {
      Version: meta.Version,
      NextUpdate: meta.NextUpdate,
      UpdatedAt: meta.UpdatedAt,
      DownloadedAt: meta.DownloadedAt,
    };
    return writeStdout(
      `${JSON.stringify({ Version: DOUBLE_TRIVY_VERSION, ...(db ? { VulnerabilityDB: db } : {}) })}\n`,
    );
  }
  if (format !== 'table') throw new UsageError(`unknown format: ${format}`);
  let text = `Version: ${DOUBLE_TRIVY_VERSION}\n`;
  if (meta) {
    text += `Vulnerability DB:\n  Version: ${meta.Version}\n  UpdatedAt: ${meta.UpdatedAt}\n  NextUpdate: ${meta.NextUpdate}\n  DownloadedAt: ${meta.DownloadedAt}\n`;
  }
  return writeStdout(text);
}

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Trivy's DB step: update from TRIVY_DOUBLE_DB_SOURCE unless skipped; fail when there is no database to use. */
async function prepareDb(parsed: Parsed, cacheDir: string): Promise<string> {
  const dbDir = join(cacheDir, 'db');
  const dbPath = join(dbDir, DOUBLE_DB_FILE);
  const exists = await stat(dbPath).then(
    () => true,
    () => false,
  );
  if (boolFlag(parsed, 'skip-db-update') || boolFlag(parsed, 'skip-update')) {
    if (!exists) {
      throw new DoubleError('init error: DB error: --skip-db-update cannot be specified on the first run');
    }
    return dbPath;
  }
  const source = process.env.TRIVY_DOUBLE_DB_SOURCE;
  log('INFO', 'Need to update DB');
  if (!source) {
    throw new DoubleError(
      'init error: DB error: failed to download vulnerability DB: database download error: OCI repository error: ' +
        'Get "https://mirror.gcr.io/v2/aquasec/trivy-db/manifests/2": dial tcp: lookup mirror.gcr.io: no such host',
    );
  }
  log('INFO', `Downloading vulnerability DB... repository="${source}"`);
  await mkdir(dbDir, { recursive: true });
  await loadDoubleDb(source).catch((error: Error) => {
    throw new DoubleError(`init error: DB error: failed to download vulnerability DB: ${error.message}`);
  });
  const tmp = `${dbPath}.${process.pid}.tmp`;
  await copyFile(source, tmp);
  await rename(tmp, dbPath);
  await writeFile(join(dbDir, 'metadata.json'), JSON.stringify({ DownloadedAt: new Date().toISOString() }));
  return dbPath;
}

function severitiesOf(parsed: Parsed): TrivySeverity[] {
  const text = flag(parsed, 'severity') ?? TRIVY_SEVERITIES.join(',');
  return text.split(',').map((s) => {
    const upper = s.trim().toUpperCase();
    if (!(TRIVY_SEVERITIES as readonly string[]).includes(upper)) throw new UsageError(`unknown severity option: ${s}`);
    return upper as TrivySeverity;
  });
}

function listFlag(parsed: Parsed, names: string[], allowed: string[]): string[] | undefined {
  for (const name of names) {
    const value = flag(parsed, name);
    if (value === undefined) continue;
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of list) {
      if (!allowed.includes(item))
        throw new UsageError(`invalid argument "${value}" for "--${name}" flag: unknown value ${item}`);
    }
    return list;
  }
  return undefined;
}

async function writeOutput(parsed: Parsed, document: unknown): Promise<void> {
  const text = `${JSON.stringify(document, null, 2)}\n`;
  const output = flag(parsed, 'output');
  if (output) await writeFile(output, text);
  else await writeStdout(text);
}

async function scan(parsed: Parsed): Promise<void> {
  if (parsed.args.length !== 1) {
    throw new UsageError(`'trivy ${parsed.command}' requires exactly one argument`);
  }
  const format = flag(parsed, 'format') ?? 'table';
  if (!['json', 'cyclonedx', 'spdx-json'].includes(format)) {
    throw new UsageError(`the Trivy test double writes json, cyclonedx and spdx-json only, not ${format}`);
  }
  const scanners = listFlag(
    parsed,
    ['scanners', 'security-checks'],
    ['vuln', 'misconfig', 'secret', 'license', 'config', 'none'],
  );
  const pkgTypes = listFlag(parsed, ['pkg-types', 'vuln-type'], ['os', 'library']);
  const severities = severitiesOf(parsed);
  const timeout = parseGoDuration(flag(parsed, 'timeout') ?? '5m0s');
  const cacheDir = cacheDirOf(parsed);
  // SBOM formats list packages only, unless vulnerability scanning is asked for explicitly (as Trivy does).
  const sbomFormat = format !== 'json';
  const scanVulnerabilities = sbomFormat ? false : (scanners ?? ['vuln']).includes('vuln');

  const work = async () => {
    const delay = process.env.TRIVY_DOUBLE_DELAY;
    if (delay) await new Promise((resolve) => setTimeout(resolve, parseGoDuration(delay)));
    const dbPath = scanVulnerabilities ? await prepareDb(parsed, cacheDir) : undefined;
    let subject: ScanSubject;
    if (parsed.command === 'image') {
      const name = parsed.args[0];
      const ref = parseImageReference(name);
      log('INFO', '[vuln] Vulnerability scanning is enabled');
      const image = await pullImage(
        ref,
        {
          username: flag(parsed, 'username'),
          password: flag(parsed, 'password'),
          registryToken: flag(parsed, 'registry-token'),
        },
        { insecure: boolFlag(parsed, 'insecure'), cacheDir },
      ).catch((error: Error) => {
        throw new DoubleError(
          `run error: image scan error: scan error: unable to initialize a scan service: unable to initialize an image scan service: unable to find the specified image "${name}" in ["remote"]: remote error: ${error.message}`,
        );
      });
      const repo = `${ref.host}/${ref.repository}`;
      subject = {
        artifactName: name,
        artifactType: 'container_image',
        os: image.os,
        packages: image.packages,
        image: {
          ...image,
          repoTags: ref.tag ? [`${repo}:${ref.tag}`] : [],
          repoDigests: [`${repo}@${image.repoDigest}`],
        },
      };
      if (image.os) log('INFO', `Detected OS\tfamily="${image.os.family}" version="${image.os.name}"`);
      else
        log(
          'WARN',
          "No OS package is detected. Make sure you haven't deleted any files that contain information about the installed packages.",
        );
    } else {
      const file = parsed.args[0];
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new DoubleError(`run error: sbom scan error: ${error.message}`);
      });
      subject = subjectFromSbom(text, file);
      log('INFO', `Detected SBOM format\tformat="${subject.artifactType}-json"`);
    }
    if (format === 'cyclonedx') return writeOutput(parsed, cycloneDx(subject));
    if (format === 'spdx-json') return writeOutput(parsed, spdxJson(subject));
    const db = await loadDoubleDb(dbPath as string);
    await writeOutput(
      parsed,
      vulnerabilityReport(subject, db, {
        severities,
        ignoreUnfixed: boolFlag(parsed, 'ignore-unfixed'),
        scanVulnerabilities,
        osPackages: (pkgTypes ?? ['os', 'library']).includes('os'),
      }),
    );
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DoubleError(
            `run error: ${parsed.command} scan error: scan failed: context deadline exceeded\n\nHint: Try increasing the timeout value with the "--timeout" flag, e.g. --timeout 10m0s`,
          ),
        ),
      timeout,
    );
  });
  try {
    await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv);
  quietState.quiet = boolFlag(parsed, 'quiet');
  if (parsed.command === 'version' || (parsed.command === 'root' && boolFlag(parsed, 'version'))) {
    return printVersion(parsed);
  }
  if (parsed.command === 'root') {
    process.stdout.write(
      'Scanner for vulnerabilities in container images (Trivy test double)\n\nUsage:\n  trivy [command]\n',
    );
    return;
  }
  await scan(parsed);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: Error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`Error: ${error.message}\n`);
    } else {
      process.stderr.write(
        `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\tFATAL\tFatal error\t${error.message}\n`,
      );
    }
    process.exit(1);
  },
);
