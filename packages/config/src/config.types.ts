/** Log levels as the apps' logger (pino) names them; harbor.yml's `warning` becomes `warn`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export type RegistryAuth = 'token' | 'none';

export interface HttpConfig {
  /** Bind address of the HTTP listener. */
  host: string;
  port: number;
}

export interface HttpsConfig {
  port: number;
  /** PEM certificate chain: the server's certificate first, then the intermediates. */
  certificateFile: string;
  privateKeyFile: string;
  /** PEM certificate of the CA that clients are offered to trust; else the chain's last certificate. */
  caCertificateFile?: string;
  /** Only ECDHE key exchange with AEAD ciphers on TLS 1.2 (Harbor's strong_ssl_ciphers). */
  strongCiphers: boolean;
}

export interface DatabaseConfig {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  sslMode: SslMode;
  /** Size of one process's connection pool. */
  maxOpenConns: number;
  /** Connections a pool keeps open while idle; never more than maxOpenConns. */
  maxIdleConns: number;
  /** A connection older than this is closed after use; 0: no limit. */
  connMaxLifetimeMs: number;
  /** An idle connection is closed after this long; 0: no limit. */
  connMaxIdleTimeMs: number;
  /** False for the embedded PostgreSQL that install.sh provisions. */
  external: boolean;
}

export interface RedisConfig {
  host: string;
  port: number;
  password?: string;
  username?: string;
  /** Sessions, login throttling and the control plane's caches. */
  coreDb: number;
  registryDb: number;
  jobserviceDb: number;
  /** Idle connections are closed after this long; 0: never. */
  idleTimeoutMs: number;
  external: boolean;
}

/** The same shape as @wharf/storage's StorageOptions, so it can be passed to the drivers as is. */
export type StorageConfig =
  | { driver: 'filesystem'; rootDirectory: string; directIO: boolean }
  | {
      driver: 's3';
      bucket: string;
      region: string;
      endpoint?: string;
      accessKey?: string;
      secretKey?: string;
      forcePathStyle?: boolean;
      rootDirectory?: string;
      chunkSize?: number;
      redirect: boolean;
    };

export interface LogConfig {
  level: LogLevel;
  /** Directory of the log files. */
  location: string;
  rotateCount: number;
  rotateSizeBytes: number;
}

export interface JobserviceConfig {
  /**
   * A job whose worker stops renewing its hold on it (killed, its host lost) is taken by another worker about this
   * long (at most twice this) later.
   */
  workerLostAfterMs: number;
}

/** The built-in scanner: harbor.yml's `trivy:` keys, as Harbor passes them to Trivy, and where Trivy is. */
export interface TrivyConfig {
  /** Report only vulnerabilities with a fix (--ignore-unfixed). */
  ignoreUnfixed: boolean;
  /** Never download the vulnerability database (--skip-db-update); it must be in the cache directory. */
  skipUpdate: boolean;
  /** Never download the Java index database (--skip-java-db-update). */
  skipJavaDbUpdate: boolean;
  /** Scan without asking the internet anything (--offline-scan). */
  offlineScan: boolean;
  /** What Trivy looks for (--scanners), e.g. ['vuln']. */
  securityChecks: string[];
  /** Pull the scanned image without verifying the registry's certificate (--insecure). */
  insecure: boolean;
  /** How long one run may take (--timeout). */
  timeoutMs: number;
  /** The trivy program: a name looked up on PATH (default `trivy`) or an absolute path. */
  binary: string;
  /** Trivy's cache directory: its databases and the layers it has analysed, kept between scans. */
  cacheDir: string;
}

/** Garbage collection settings Harbor has no knob for (its own are parameters of each run). */
export interface GcConfig {
  /**
   * While core or a registry is serving clients, the share of the time the sweep works, all its workers together:
   * they take turns, a batch at a time, each followed by a pause for the rest (1: never pauses).
   */
  dutyCycle: number;
}

export interface UploadPurgingConfig {
  enabled: boolean;
  /** Uploads left unfinished for longer than this are deleted. */
  ageMs: number;
  intervalMs: number;
  dryRun: boolean;
}

export interface RegistryTokenConfig {
  /** URL of the token service that clients are sent to. */
  realm: string;
  /** The `aud` claim a token must carry. */
  service: string;
  /** The `iss` claim a token must carry. */
  issuer: string;
  /** PEM public key or certificate (ES256 or RS256) that verifies token signatures. */
  publicKeyFile: string;
}

export interface RegistryConfig {
  /** Bind address of the standalone registry (`wharf start registry`). */
  host: string;
  port: number;
  auth: RegistryAuth;
  /** Set when the registry verifies tokens of an external token service. */
  token?: RegistryTokenConfig;
  maxManifestBytes: number;
}

/** harbor.yml after validation: defaults applied, units converted, names in camelCase. */
export interface WharfConfig {
  hostname: string;
  /** The URL clients use to reach Wharf when it sits behind a proxy; tokens and the portal use it. */
  externalUrl?: string;
  http: HttpConfig;
  /**
   * http.trusted_proxies: the peers (IP addresses and CIDR ranges) whose X-Forwarded-For, -Proto and -Host are
   * believed; empty: none.
   */
  trustedProxies: string[];
  https?: HttpsConfig;
  /** Password of the `admin` user created on first start. */
  adminPassword: string;
  dataVolume: string;
  database: DatabaseConfig;
  redis: RedisConfig;
  storage: StorageConfig;
  /** Whether blob downloads may be redirected to the storage backend. */
  storageRedirect: boolean;
  /** PEM bundle of CAs trusted for the storage backend's TLS, in addition to the system's. */
  storageCaBundleFile?: string;
  log: LogConfig;
  jobservice: JobserviceConfig;
  gc: GcConfig;
  trivy: TrivyConfig;
  uploadPurging: UploadPurgingConfig;
  registry: RegistryConfig;
  /** harbor.yml's `_version`: the version of the file's layout. */
  version?: string;
}
