import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';
import * as z from 'zod';
import {
  type DatabaseConfig,
  type LogLevel,
  type RedisConfig,
  type RegistryAuth,
  type SslMode,
  type StorageConfig,
  type WharfConfig,
} from './config.types.js';
import { parseDuration, parseSize } from './units.parser.js';

// The YAML is read with the failsafe schema, so every leaf arrives here as a string (or as a
// mapping/list where the file put one). Each leaf below converts and checks its own text, which
// keeps values like `password: 0123` intact and lets every message quote what the file said.

const KiB = 1024;
const MiB = 1024 * KiB;

export const DEFAULTS = {
  /** The share of time garbage collection's sweep works while core or a registry serves clients. */
  gcDutyCycle: 0.5,
  /** How long one Trivy run may take (harbor.yml's default, 5m0s). */
  trivyTimeoutMs: 5 * 60_000,
  httpPort: 8080,
  httpsPort: 443,
  bindAddress: '0.0.0.0',
  loopbackAddress: '127.0.0.1',
  dataVolume: '/data/wharf',
  embeddedDatabasePort: 55432,
  embeddedDatabaseName: 'registry',
  embeddedDatabaseUser: 'wharf',
  externalDatabasePort: 5432,
  maxOpenConns: 20,
  maxIdleConns: 10,
  connMaxLifetimeMs: 5 * 60_000,
  connMaxIdleTimeMs: 0,
  embeddedRedisPort: 56379,
  redisPort: 6379,
  coreDbIndex: 0,
  registryDbIndex: 1,
  jobserviceDbIndex: 2,
  redisIdleTimeoutSeconds: 30,
  logLevel: 'info',
  logLocation: '/var/log/wharf',
  logRotateCount: 50,
  logRotateSize: 200 * MiB,
  uploadPurgingAgeMs: 168 * 3_600_000,
  uploadPurgingIntervalMs: 24 * 3_600_000,
  jobserviceWorkerLostAfterMs: 30_000,
  registryPort: 5000,
  registryAuth: 'token',
  tokenService: 'harbor-registry',
  tokenIssuer: 'harbor-token-issuer',
  maxManifestBytes: 4 * MiB,
  /** Proxies trusted when external_url is set: loopback, and private and unique-local networks. */
  trustedProxies: ['127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
} as const;

/** Harbor's well-known initial password, which its installer ships in every example file. */
const HARBOR_DEFAULT_ADMIN_PASSWORD = 'Harbor12345';

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a section of keys';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

function leaf<T>(expected: string, parse: (text: string) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    if (typeof value === 'string') {
      const parsed = parse(value);
      if (parsed !== undefined) return parsed;
    }
    const message =
      value === undefined ? `required (expected ${expected})` : `expected ${expected}, got ${describeValue(value)}`;
    ctx.issues.push({ code: 'custom', message, input: value });
    return z.NEVER;
  });
}

function int(min: number, max: number) {
  return leaf(`an integer between ${min} and ${max}`, (text) => {
    if (!/^\s*-?\d+\s*$/.test(text)) return undefined;
    const n = Number(text);
    return n >= min && n <= max ? n : undefined;
  });
}

const port = int(1, 65535);

/** A share: more than 0, at most 1. */
const share = leaf('a number more than 0 and at most 1, such as 0.5', (text) => {
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 && n <= 1 ? n : undefined;
});

const BOOLEANS = new Map([
  ['true', true],
  ['yes', true],
  ['on', true],
  ['false', false],
  ['no', false],
  ['off', false],
]);

const bool = leaf('true or false', (text) => BOOLEANS.get(text.trim().toLowerCase()));

function oneOf<T extends string>(values: readonly T[]) {
  return leaf(`one of ${values.join(', ')}`, (text) => values.find((v) => v === text.trim().toLowerCase()));
}

const text = leaf('a non-empty string', (t) => (t === '' ? undefined : t));
// Any non-empty text is a valid secret, so a message about one can only ever quote "".
const secret = text;

const absolutePath = leaf('an absolute path', (t) => (isAbsolute(t) ? t : undefined));

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label));
}

const hostname = leaf('a host name or IP address, without scheme or port', (t) =>
  isIP(t) !== 0 || isHostName(t) ? t : undefined,
);

const bindAddress = leaf('an IP address or host name to listen on', (t) =>
  isIP(t) !== 0 || isHostName(t) ? t : undefined,
);

const hostAndPort = leaf('host:port (for example redis.internal:6379)', (t) => parseHostPort(t.trim()));

function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2];
  if (match[1] !== undefined ? isIP(host) !== 6 : isIP(host) === 0 && !isHostName(host)) return undefined;
  const portNumber = match[3] === undefined ? DEFAULTS.redisPort : Number(match[3]);
  return portNumber >= 1 && portNumber <= 65535 ? { host, port: portNumber } : undefined;
}

/** `address` or `address/prefix`, normalised; undefined when it is neither. */
function parseAddressRange(value: string): string | undefined {
  const [address, prefix, ...rest] = value.trim().split('/');
  // A zone index (fe80::1%eth0) names an interface, which a forwarded address never carries.
  const family = address.includes('%') ? 0 : isIP(address);
  if (family === 0 || rest.length > 0) return undefined;
  if (prefix === undefined) return address;
  // A /0 range would trust every peer (and proxy-addr refuses one).
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : 0;
  if (bits < 1 || bits > (family === 4 ? 32 : 128)) return undefined;
  return `${address}/${bits}`;
}

// A list in the file; one comma-separated value where only a scalar can be given (an environment variable).
const addressRanges = z.unknown().transform((value, ctx): string[] => {
  const entries: unknown[] | undefined =
    typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (entries === undefined) {
    ctx.issues.push({
      code: 'custom',
      message: `expected a list of IP addresses or CIDR ranges, got ${describeValue(value)}`,
      input: value,
    });
    return z.NEVER;
  }
  const ranges: string[] = [];
  let valid = true;
  for (const entry of entries) {
    const range = typeof entry === 'string' ? parseAddressRange(entry) : undefined;
    if (range === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: `expected an IP address or CIDR range such as 10.0.0.0/8, got ${describeValue(entry)}`,
        input: value,
      });
      valid = false;
    } else {
      ranges.push(range);
    }
  }
  return valid ? ranges : z.NEVER;
});

function httpUrl(expected: string) {
  return leaf(expected, (t) => {
    if (!URL.canParse(t)) return undefined;
    const url = new URL(t);
    return url.protocol === 'http:' || url.protocol === 'https:' ? t : undefined;
  });
}

export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 * MiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

function size(min: number, max: number) {
  return leaf(`a size between ${formatSize(min)} and ${formatSize(max)} (bytes, or a number with K, M or G)`, (t) => {
    const bytes = parseSize(t);
    return bytes !== undefined && bytes >= min && bytes <= max ? bytes : undefined;
  });
}

function duration(options: { positive: boolean }) {
  const expected = options.positive ? 'a positive duration like 90s, 30m or 168h' : 'a duration like 90s, 30m or 168h';
  return leaf(expected, (t) => {
    const ms = parseDuration(t);
    return ms !== undefined && (!options.positive || ms > 0) ? ms : undefined;
  });
}

const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'fatal'] as const;
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const satisfies readonly SslMode[];
const REGISTRY_AUTHS = ['token', 'none'] as const satisfies readonly RegistryAuth[];

// Distribution signs with Signature V2 when v4auth is false; the AWS SDK that Wharf uses only
// speaks V4, so the one accepted value is the one that keeps the file honest.
const v4auth = leaf('true (Wharf signs S3 requests with Signature Version 4 only)', (t) =>
  BOOLEANS.get(t.trim().toLowerCase()) === true ? true : undefined,
);

const connections = int(0, 10000);
const databaseIndex = int(0, 1023);

const section = z.strictObject;

/** What Trivy looks for (its --scanners), as harbor.yml's trivy.security_check names them: a comma-separated list. */
const TRIVY_CHECKS = ['vuln', 'config', 'misconfig', 'secret', 'license'] as const;
const securityChecks = leaf(`a comma-separated list of ${TRIVY_CHECKS.join(', ')}`, (t) => {
  const checks = t.split(',').map((c) => c.trim());
  return checks.every((c) => (TRIVY_CHECKS as readonly string[]).includes(c)) ? checks : undefined;
});
/** A program: a name looked up on PATH (no slash), or an absolute path. */
const executable = leaf('a program name found on PATH, or an absolute path', (t) =>
  /^[A-Za-z0-9._+-]+$/.test(t) || isAbsolute(t) ? t : undefined,
);

const rawSchema = section({
  hostname,
  external_url: httpUrl('an http(s) URL such as https://reg.example.com, without a path').optional(),
  http: section({
    port: port.optional(),
    host: bindAddress.optional(),
    trusted_proxies: addressRanges.optional(),
  }).optional(),
  https: section({
    port: port.optional(),
    certificate: absolutePath,
    private_key: absolutePath,
    ca_certificate: absolutePath.optional(),
    strong_ssl_ciphers: bool.optional(),
  }).optional(),
  harbor_admin_password: secret,
  database: section({
    password: secret.optional(),
    port: port.optional(),
    max_idle_conns: connections.optional(),
    max_open_conns: int(1, 10000).optional(),
    conn_max_lifetime: duration({ positive: false }).optional(),
    conn_max_idle_time: duration({ positive: false }).optional(),
  }).optional(),
  data_volume: absolutePath.optional(),
  redis: section({ port: port.optional() }).optional(),
  storage_service: section({
    ca_bundle: absolutePath.optional(),
    filesystem: section({
      // Distribution refuses fewer than 25 threads.
      maxthreads: int(25, 100000).optional(),
      rootdirectory: absolutePath.optional(),
      direct_io: bool.optional(),
    }).optional(),
    s3: section({
      accesskey: text.optional(),
      secretkey: secret.optional(),
      region: text,
      regionendpoint: text.optional(),
      bucket: text,
      rootdirectory: text.optional(),
      forcepathstyle: bool.optional(),
      // S3 refuses multipart parts under 5 MiB and allows at most 5 GiB.
      chunksize: size(5 * MiB, 5 * 1024 * MiB).optional(),
      secure: bool.optional(),
      v4auth: v4auth.optional(),
      multipartcopythresholdsize: size(5 * MiB, 5 * 1024 * MiB).optional(),
      multipartcopychunksize: size(5 * MiB, 5 * 1024 * MiB).optional(),
      multipartcopymaxconcurrency: int(1, 10000).optional(),
    }).optional(),
    redirect: section({ disable: bool.optional() }).optional(),
  }).optional(),
  log: section({
    level: oneOf(LOG_LEVELS).optional(),
    local: section({
      rotate_count: int(0, 100000).optional(),
      rotate_size: size(KiB, 1024 * 1024 * MiB).optional(),
      location: absolutePath.optional(),
    }).optional(),
  }).optional(),
  external_database: section({
    harbor: section({
      host: hostname,
      port: port.optional(),
      db_name: text,
      username: text,
      password: secret,
      ssl_mode: oneOf(SSL_MODES).optional(),
      max_idle_conns: connections.optional(),
      max_open_conns: int(1, 10000).optional(),
    }),
  }).optional(),
  external_redis: section({
    host: hostAndPort,
    password: secret.optional(),
    username: text.optional(),
    harbor_db_index: databaseIndex.optional(),
    registry_db_index: databaseIndex.optional(),
    jobservice_db_index: databaseIndex.optional(),
    idle_timeout_seconds: int(0, 86400).optional(),
  }).optional(),
  jobservice: section({
    worker_lost_after: duration({ positive: true }).optional(),
  }).optional(),
  gc: section({
    duty_cycle: share.optional(),
  }).optional(),
  trivy: section({
    ignore_unfixed: bool.optional(),
    skip_update: bool.optional(),
    skip_java_db_update: bool.optional(),
    offline_scan: bool.optional(),
    security_check: securityChecks.optional(),
    insecure: bool.optional(),
    timeout: duration({ positive: true }).optional(),
    binary: executable.optional(),
    cache_dir: absolutePath.optional(),
  }).optional(),
  upload_purging: section({
    enabled: bool.optional(),
    age: duration({ positive: true }).optional(),
    interval: duration({ positive: true }).optional(),
    dryrun: bool.optional(),
  }).optional(),
  _version: text.optional(),
  registry: section({
    host: bindAddress.optional(),
    port: port.optional(),
    auth: oneOf(REGISTRY_AUTHS).optional(),
    token: section({
      realm: httpUrl('an http(s) URL of the token service'),
      service: text.optional(),
      issuer: text.optional(),
      public_key: absolutePath,
    }).optional(),
    // The OCI distribution spec asks registries to accept manifests of at least 4 MB; the bound
    // above keeps one request from holding an unreasonable amount of memory.
    max_manifest_size: size(4 * MiB, 64 * MiB).optional(),
  }).optional(),
});

type RawConfig = z.output<typeof rawSchema>;

/** Removes keys whose value is undefined, so optional settings that are not set are absent. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

const LOG_LEVEL_NAMES: Record<(typeof LOG_LEVELS)[number], LogLevel> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
};

interface Issue {
  path: string[];
  message: string;
}

function resolveDatabase(raw: RawConfig, issues: Issue[]): DatabaseConfig | undefined {
  const timeouts = {
    connMaxLifetimeMs: raw.database?.conn_max_lifetime ?? DEFAULTS.connMaxLifetimeMs,
    connMaxIdleTimeMs: raw.database?.conn_max_idle_time ?? DEFAULTS.connMaxIdleTimeMs,
  };
  const external = raw.external_database?.harbor;
  if (external) {
    const maxOpenConns = external.max_open_conns ?? DEFAULTS.maxOpenConns;
    return {
      host: external.host,
      port: external.port ?? DEFAULTS.externalDatabasePort,
      database: external.db_name,
      username: external.username,
      password: external.password,
      sslMode: external.ssl_mode ?? 'disable',
      maxOpenConns,
      maxIdleConns: Math.min(external.max_idle_conns ?? DEFAULTS.maxIdleConns, maxOpenConns),
      ...timeouts,
      external: true,
    };
  }
  const password = raw.database?.password;
  if (password === undefined) {
    issues.push({
      path: ['database', 'password'],
      message: 'required unless external_database is set (the password of the embedded PostgreSQL)',
    });
    return undefined;
  }
  const maxOpenConns = raw.database?.max_open_conns ?? DEFAULTS.maxOpenConns;
  return {
    host: DEFAULTS.loopbackAddress,
    port: raw.database?.port ?? DEFAULTS.embeddedDatabasePort,
    database: DEFAULTS.embeddedDatabaseName,
    username: DEFAULTS.embeddedDatabaseUser,
    password,
    sslMode: 'disable',
    maxOpenConns,
    maxIdleConns: Math.min(raw.database?.max_idle_conns ?? DEFAULTS.maxIdleConns, maxOpenConns),
    ...timeouts,
    external: false,
  };
}

function resolveRedis(raw: RawConfig, issues: Issue[], warnings: string[]): RedisConfig {
  const external = raw.external_redis;
  const embeddedPort = raw.redis?.port ?? DEFAULTS.embeddedRedisPort;
  if (external && raw.redis?.port !== undefined) {
    warnings.push('redis.port: ignored because external_redis is set (it is the port of the embedded Redis)');
  }
  if (!external && !raw.external_database?.harbor) {
    const databasePort = raw.database?.port ?? DEFAULTS.embeddedDatabasePort;
    if (databasePort === embeddedPort) {
      issues.push({
        path: ['redis', 'port'],
        message: `must differ from database.port (both are ${embeddedPort}): the embedded PostgreSQL and Redis both listen on 127.0.0.1`,
      });
    }
  }
  return compact({
    host: external?.host.host ?? DEFAULTS.loopbackAddress,
    port: external?.host.port ?? embeddedPort,
    password: external?.password,
    username: external?.username,
    coreDb: external?.harbor_db_index ?? DEFAULTS.coreDbIndex,
    registryDb: external?.registry_db_index ?? DEFAULTS.registryDbIndex,
    jobserviceDb: external?.jobservice_db_index ?? DEFAULTS.jobserviceDbIndex,
    idleTimeoutMs: (external?.idle_timeout_seconds ?? DEFAULTS.redisIdleTimeoutSeconds) * 1000,
    external: external !== undefined,
  });
}

function resolveStorage(
  raw: RawConfig,
  dataVolume: string,
  issues: Issue[],
  warnings: string[],
): { storage: StorageConfig; redirect: boolean } | undefined {
  const service = raw.storage_service;
  const redirect = !(service?.redirect?.disable ?? false);
  if (service?.filesystem && service.s3) {
    issues.push({ path: ['storage_service'], message: 'set either filesystem or s3, not both' });
    return undefined;
  }
  const noEffect = (key: string) =>
    warnings.push(`storage_service.${key}: accepted for compatibility with Harbor; it has no effect in Wharf`);
  const s3 = service?.s3;
  if (!s3) {
    if (service?.filesystem?.maxthreads !== undefined) noEffect('filesystem.maxthreads');
    return {
      storage: {
        driver: 'filesystem',
        rootDirectory: service?.filesystem?.rootdirectory ?? join(dataVolume, 'registry'),
        directIO: service?.filesystem?.direct_io ?? false,
      },
      redirect,
    };
  }
  for (const key of ['multipartcopythresholdsize', 'multipartcopychunksize', 'multipartcopymaxconcurrency'] as const) {
    if (s3[key] !== undefined) noEffect(`s3.${key}`);
  }
  if ((s3.accesskey === undefined) !== (s3.secretkey === undefined)) {
    const missing = s3.accesskey === undefined ? 'accesskey' : 'secretkey';
    const present = missing === 'accesskey' ? 'secretkey' : 'accesskey';
    issues.push({
      path: ['storage_service', 's3', missing],
      message: `required when ${present} is set (or remove both to use the ambient AWS credentials)`,
    });
    return undefined;
  }
  const endpoint = resolveS3Endpoint(s3.regionendpoint, s3.region, s3.secure ?? true);
  if (endpoint === undefined) {
    issues.push({
      path: ['storage_service', 's3', 'regionendpoint'],
      message: `expected an http(s) URL or a host name, got ${describeValue(s3.regionendpoint)}`,
    });
    return undefined;
  }
  return {
    storage: compact({
      driver: 's3',
      bucket: s3.bucket,
      region: s3.region,
      endpoint: endpoint || undefined,
      accessKey: s3.accesskey,
      secretKey: s3.secretkey,
      forcePathStyle: s3.forcepathstyle,
      rootDirectory: s3.rootdirectory,
      chunkSize: s3.chunksize,
      redirect,
    }),
    redirect,
  };
}

/**
 * Distribution's `secure` picks the scheme of an endpoint given without one, and of AWS's own
 * endpoint when none is given. '' means "AWS's default endpoint"; undefined, an invalid one.
 */
function resolveS3Endpoint(regionEndpoint: string | undefined, region: string, secure: boolean): string | undefined {
  const scheme = secure ? 'https' : 'http';
  if (regionEndpoint === undefined) return secure ? '' : `http://s3.${region}.amazonaws.com`;
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(regionEndpoint) ? regionEndpoint : `${scheme}://${regionEndpoint}`;
  if (!URL.canParse(candidate)) return undefined;
  const url = new URL(candidate);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return candidate.replace(/\/+$/, '');
}

function resolveConfig(raw: RawConfig, issues: Issue[], warnings: string[]): WharfConfig | undefined {
  const dataVolume = raw.data_volume ?? DEFAULTS.dataVolume;
  const database = resolveDatabase(raw, issues);
  const storage = resolveStorage(raw, dataVolume, issues, warnings);
  const redis = resolveRedis(raw, issues, warnings);

  const http = { host: raw.http?.host ?? DEFAULTS.bindAddress, port: raw.http?.port ?? DEFAULTS.httpPort };
  const https =
    raw.https &&
    compact({
      port: raw.https.port ?? DEFAULTS.httpsPort,
      certificateFile: raw.https.certificate,
      privateKeyFile: raw.https.private_key,
      caCertificateFile: raw.https.ca_certificate,
      strongCiphers: raw.https.strong_ssl_ciphers ?? false,
    });
  if (https && https.port === http.port) {
    issues.push({ path: ['https', 'port'], message: `must differ from http.port (both are ${http.port})` });
  }

  const auth = raw.registry?.auth ?? DEFAULTS.registryAuth;
  const registryHost = raw.registry?.host ?? (auth === 'none' ? DEFAULTS.loopbackAddress : DEFAULTS.bindAddress);
  const registryPort = raw.registry?.port ?? DEFAULTS.registryPort;
  const rawToken = raw.registry?.token;
  if (auth === 'none') {
    warnings.push(
      isLoopback(registryHost)
        ? `registry.auth: none lets every local process push, pull and delete images on ${registryHost}:${registryPort}; use it only for a standalone registry on a loopback address`
        : `registry.auth: none on the non-loopback address ${registryHost}: anyone who can reach port ${registryPort} can push, pull and delete images; use it only for a standalone registry on a loopback address`,
    );
    if (rawToken) warnings.push('registry.token: ignored because registry.auth is none');
  }
  if (raw.harbor_admin_password === HARBOR_DEFAULT_ADMIN_PASSWORD) {
    warnings.push(
      'harbor_admin_password: Harbor12345 is a well-known default; change the admin password after the first login',
    );
  }

  if (!database || !storage || issues.length > 0) return undefined;
  return compact({
    hostname: raw.hostname,
    externalUrl: raw.external_url?.replace(/\/+$/, ''),
    http,
    // Without external_url nothing says a proxy is in front, so no forwarding header is believed.
    trustedProxies: raw.http?.trusted_proxies ?? (raw.external_url === undefined ? [] : [...DEFAULTS.trustedProxies]),
    https,
    adminPassword: raw.harbor_admin_password,
    dataVolume,
    database,
    redis,
    storage: storage.storage,
    storageRedirect: storage.redirect,
    storageCaBundleFile: raw.storage_service?.ca_bundle,
    log: {
      level: LOG_LEVEL_NAMES[raw.log?.level ?? DEFAULTS.logLevel],
      location: raw.log?.local?.location ?? DEFAULTS.logLocation,
      rotateCount: raw.log?.local?.rotate_count ?? DEFAULTS.logRotateCount,
      rotateSizeBytes: raw.log?.local?.rotate_size ?? DEFAULTS.logRotateSize,
    },
    jobservice: {
      workerLostAfterMs: raw.jobservice?.worker_lost_after ?? DEFAULTS.jobserviceWorkerLostAfterMs,
    },
    gc: {
      dutyCycle: raw.gc?.duty_cycle ?? DEFAULTS.gcDutyCycle,
    },
    trivy: {
      ignoreUnfixed: raw.trivy?.ignore_unfixed ?? false,
      skipUpdate: raw.trivy?.skip_update ?? false,
      skipJavaDbUpdate: raw.trivy?.skip_java_db_update ?? false,
      offlineScan: raw.trivy?.offline_scan ?? false,
      securityChecks: raw.trivy?.security_check ?? ['vuln'],
      insecure: raw.trivy?.insecure ?? false,
      timeoutMs: raw.trivy?.timeout ?? DEFAULTS.trivyTimeoutMs,
      binary: raw.trivy?.binary ?? 'trivy',
      cacheDir: raw.trivy?.cache_dir ?? join(dataVolume, 'trivy-adapter', 'trivy'),
    },
    uploadPurging: {
      enabled: raw.upload_purging?.enabled ?? true,
      ageMs: raw.upload_purging?.age ?? DEFAULTS.uploadPurgingAgeMs,
      intervalMs: raw.upload_purging?.interval ?? DEFAULTS.uploadPurgingIntervalMs,
      dryRun: raw.upload_purging?.dryrun ?? false,
    },
    registry: compact({
      host: registryHost,
      port: registryPort,
      auth,
      token:
        auth === 'token' && rawToken
          ? {
              realm: rawToken.realm,
              service: rawToken.service ?? DEFAULTS.tokenService,
              issuer: rawToken.issuer ?? DEFAULTS.tokenIssuer,
              publicKeyFile: rawToken.public_key,
            }
          : undefined,
      maxManifestBytes: raw.registry?.max_manifest_size ?? DEFAULTS.maxManifestBytes,
    }),
    version: raw._version,
  });
}

/**
 * The one schema of harbor.yml: it validates the file's keys and values and turns them into a
 * WharfConfig, with the warnings a valid but risky file deserves.
 */
export const harborConfigSchema = rawSchema.transform((raw, ctx): { config: WharfConfig; warnings: string[] } => {
  const issues: Issue[] = [];
  const warnings: string[] = [];
  const config = resolveConfig(raw, issues, warnings);
  if (!config) {
    for (const issue of issues) ctx.issues.push({ code: 'custom', input: raw, ...issue });
    return z.NEVER;
  }
  return { config, warnings };
});

/** The keys a section of harbor.yml accepts, for suggestions when a key is unknown. */
export function keysAt(path: readonly PropertyKey[]): string[] {
  let shape = shapeOf(rawSchema);
  for (const key of path) {
    shape = shape && Object.hasOwn(shape, key) ? shapeOf(shape[String(key)]) : undefined;
  }
  return Object.keys(shape ?? {});
}

function shapeOf(schema: z.ZodType | undefined): Record<string, z.ZodType> | undefined {
  let node: unknown = schema;
  while (node instanceof z.ZodOptional) node = node.unwrap();
  return node instanceof z.ZodObject ? node.shape : undefined;
}
