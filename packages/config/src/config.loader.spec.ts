import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigError, type ConfigIssue } from './config.error.js';
import { type LoadedConfig, embeddedRedisPasswordFile, loadConfig, parseConfig } from './config.loader.js';

const EXAMPLE = fileURLToPath(new URL('../../../harbor.yml.example', import.meta.url));

const MINIMAL = `
hostname: registry.local
harbor_admin_password: s3cret-admin
database:
  password: db-pass
`;

function parse(text: string, env: Record<string, string> = {}): LoadedConfig {
  return parseConfig(text, 'harbor.yml', env);
}

/** The issues a text produces; fails the test when the text is accepted. */
function issuesOf(text: string, env: Record<string, string> = {}): ConfigIssue[] {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('harbor.yml.example', () => {
  it('validates and describes a single-host install with filesystem storage', () => {
    const { config, warnings } = loadConfig(EXAMPLE, {});
    expect(config.hostname).toBe('reg.example.com');
    expect(config.http).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.https).toBeUndefined();
    expect(config.dataVolume).toBe('/data/wharf');
    expect(config.storage).toEqual({ driver: 'filesystem', rootDirectory: '/data/wharf/registry', directIO: false });
    expect(config.database).toMatchObject({ host: '127.0.0.1', port: 55432, external: false });
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 56379, external: false });
    expect(config.registry).toEqual({ host: '0.0.0.0', port: 5000, auth: 'token', maxManifestBytes: 4 * 1024 ** 2 });
    expect(config.log.rotateSizeBytes).toBe(200 * 1024 ** 2);
    // The only warning is about Harbor's well-known initial admin password.
    expect(warnings).toEqual([expect.stringContaining('harbor_admin_password')]);
  });

  it('keeps the storage root inside data_volume when only data_volume is changed', () => {
    const { config } = loadConfig(EXAMPLE, { WHARF__DATA_VOLUME: '/srv/registry-data' });
    expect(config.dataVolume).toBe('/srv/registry-data');
    expect(config.storage).toEqual({
      driver: 'filesystem',
      rootDirectory: '/srv/registry-data/registry',
      directIO: false,
    });
  });
});

describe('harbor.yml.example https section', () => {
  it('validates once uncommented', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const block = /^# https:\n(?:#.*\n)+/m.exec(text)?.[0];
    expect(block).toBeDefined();
    const uncommented = (block ?? '').replace(/^# (?! *# )/gm, '').replace(/^#/gm, '');
    const { config } = parseConfig(text.replace(block ?? '', uncommented), 'harbor.yml', {});
    expect(config.https).toEqual({
      port: 443,
      certificateFile: '/etc/wharf/tls/server.crt',
      privateKeyFile: '/etc/wharf/tls/server.key',
      caCertificateFile: '/etc/wharf/tls/ca.crt',
      strongCiphers: false,
    });
  });
});

describe('harbor.yml.example trusted_proxies', () => {
  it('validates once uncommented', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const block = /^ {2}# trusted_proxies:\n(?: {2}# {3}- .*\n)+/m.exec(text)?.[0];
    expect(block).toBeDefined();
    const uncommented = (block ?? '').replace(/^ {2}# /gm, '  ');
    const { config } = parseConfig(text.replace(block ?? '', uncommented), 'harbor.yml', {});
    expect(config.trustedProxies).toEqual(['10.0.0.0/8', '192.0.2.15']);
  });
});

describe('defaults', () => {
  it('fills every setting a minimal file leaves out', () => {
    const { config, warnings } = parse(MINIMAL);
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      hostname: 'registry.local',
      http: { host: '0.0.0.0', port: 8080 },
      trustedProxies: [],
      adminPassword: 's3cret-admin',
      dataVolume: '/data/wharf',
      database: {
        host: '127.0.0.1',
        port: 55432,
        database: 'registry',
        username: 'wharf',
        password: 'db-pass',
        sslMode: 'disable',
        maxOpenConns: 20,
        maxIdleConns: 10,
        connMaxLifetimeMs: 300_000,
        connMaxIdleTimeMs: 0,
        external: false,
      },
      redis: {
        host: '127.0.0.1',
        port: 56379,
        coreDb: 0,
        registryDb: 1,
        jobserviceDb: 2,
        idleTimeoutMs: 30_000,
        external: false,
      },
      storage: { driver: 'filesystem', rootDirectory: '/data/wharf/registry', directIO: false },
      storageRedirect: true,
      log: { level: 'info', location: '/var/log/wharf', rotateCount: 50, rotateSizeBytes: 200 * 1024 ** 2 },
      jobservice: { workerLostAfterMs: 30_000 },
      gc: { dutyCycle: 0.5 },
      trivy: {
        ignoreUnfixed: false,
        skipUpdate: false,
        skipJavaDbUpdate: false,
        offlineScan: false,
        securityChecks: ['vuln'],
        insecure: false,
        timeoutMs: 300_000,
        binary: 'trivy',
        cacheDir: '/data/wharf/trivy-adapter/trivy',
      },
      uploadPurging: { enabled: true, ageMs: 168 * 3_600_000, intervalMs: 24 * 3_600_000, dryRun: false },
      registry: { host: '0.0.0.0', port: 5000, auth: 'token', maxManifestBytes: 4 * 1024 ** 2 },
    });
  });

  it("reads Harbor's trivy keys, and where the trivy program and its cache are", () => {
    const { config } = parse(
      `${MINIMAL}trivy:\n  ignore_unfixed: true\n  skip_update: true\n  skip_java_db_update: true\n` +
        `  offline_scan: true\n  security_check: vuln,secret\n  insecure: true\n  timeout: 10m30s\n` +
        `  binary: /opt/trivy/bin/trivy\n  cache_dir: /var/cache/trivy\n`,
    );
    expect(config.trivy).toEqual({
      ignoreUnfixed: true,
      skipUpdate: true,
      skipJavaDbUpdate: true,
      offlineScan: true,
      securityChecks: ['vuln', 'secret'],
      insecure: true,
      timeoutMs: 630_000,
      binary: '/opt/trivy/bin/trivy',
      cacheDir: '/var/cache/trivy',
    });
    expect(parse(`${MINIMAL}data_volume: /srv/wharf\n`).config.trivy.cacheDir).toBe('/srv/wharf/trivy-adapter/trivy');
  });

  it('puts the filesystem storage under data_volume', () => {
    const { config } = parse(`${MINIMAL}data_volume: /srv/wharf\n`);
    expect(config.storage).toEqual({ driver: 'filesystem', rootDirectory: '/srv/wharf/registry', directIO: false });
  });

  it('turns direct I/O on when storage_service.filesystem.direct_io is true, and refuses a value that is not a boolean', () => {
    const on = parse(`${MINIMAL}storage_service:\n  filesystem:\n    direct_io: true\n`);
    expect(on.config.storage).toEqual({ driver: 'filesystem', rootDirectory: '/data/wharf/registry', directIO: true });
    expect(() => parse(`${MINIMAL}storage_service:\n  filesystem:\n    direct_io: sometimes\n`)).toThrow(/direct_io/);
  });

  it('serves HTTPS on 443 with the default ciphers when only the certificate and key are given', () => {
    const { config } = parse(`${MINIMAL}https:\n  certificate: /tls/server.crt\n  private_key: /tls/server.key\n`);
    expect(config.https).toEqual({
      port: 443,
      certificateFile: '/tls/server.crt',
      privateKeyFile: '/tls/server.key',
      strongCiphers: false,
    });
  });

  it("reads Harbor's strong_ssl_ciphers and a CA certificate, and refuses a value that is not a boolean", () => {
    const { config } = parse(
      `${MINIMAL}https:\n  port: 8443\n  certificate: /tls/server.crt\n  private_key: /tls/server.key\n` +
        '  ca_certificate: /tls/ca.crt\n  strong_ssl_ciphers: true\n',
    );
    expect(config.https).toEqual({
      port: 8443,
      certificateFile: '/tls/server.crt',
      privateKeyFile: '/tls/server.key',
      caCertificateFile: '/tls/ca.crt',
      strongCiphers: true,
    });
    expect(issuesOf(`${MINIMAL}https:\n  certificate: /c\n  private_key: /k\n  strong_ssl_ciphers: strong\n`)).toEqual([
      { path: 'https.strong_ssl_ciphers', message: 'expected true or false, got "strong"' },
    ]);
    expect(issuesOf(`${MINIMAL}https:\n  certificate: /c\n  private_key: /k\n  ca_certificate: ca.crt\n`)).toEqual([
      { path: 'https.ca_certificate', message: 'expected an absolute path, got "ca.crt"' },
    ]);
  });

  it('keeps text exactly as written, even when YAML would read it as a number', () => {
    const { config } = parse(`${MINIMAL}external_redis:\n  host: redis\n  password: 0123\n`);
    expect(config.redis.password).toBe('0123');
  });

  it('treats an empty value as not set', () => {
    const { config } = parse(`${MINIMAL}external_redis:\n  host: redis:6380\n  password:\n  username: ~\n`);
    expect(config.redis).toEqual({
      host: 'redis',
      port: 6380,
      coreDb: 0,
      registryDb: 1,
      jobserviceDb: 2,
      idleTimeoutMs: 30_000,
      external: true,
    });
  });

  it('reads Harbor-style values: warning level, 0 durations, yes/no booleans, IPv6 redis host', () => {
    const { config } = parse(`hostname: registry.local
harbor_admin_password: a
log:
  level: warning
database:
  password: db-pass
  conn_max_lifetime: 0
  conn_max_idle_time: 90s
upload_purging:
  enabled: no
  dryrun: yes
gc:
  duty_cycle: .25
external_redis:
  host: "[::1]:6390"
`);
    expect(config.log.level).toBe('warn');
    expect(config.database.connMaxLifetimeMs).toBe(0);
    expect(config.database.connMaxIdleTimeMs).toBe(90_000);
    expect(config.uploadPurging).toMatchObject({ enabled: false, dryRun: true });
    expect(config.gc).toEqual({ dutyCycle: 0.25 });
    expect(config.redis).toMatchObject({ host: '::1', port: 6390, external: true });
  });
});

describe('external database', () => {
  const external = `
hostname: registry.local
harbor_admin_password: admin
external_database:
  harbor:
    host: pg.internal
    db_name: wharf_meta
    username: app
    password: pg-pass
    ssl_mode: verify-full
    max_open_conns: 5
    max_idle_conns: 50
`;

  it('is used instead of the embedded database, which then needs no password', () => {
    const { config } = parse(external);
    expect(config.database).toEqual({
      host: 'pg.internal',
      port: 5432,
      database: 'wharf_meta',
      username: 'app',
      password: 'pg-pass',
      sslMode: 'verify-full',
      maxOpenConns: 5,
      // Like Go's database/sql, more idle connections than the pool holds is cut to the pool size.
      maxIdleConns: 5,
      connMaxLifetimeMs: 300_000,
      connMaxIdleTimeMs: 0,
      external: true,
    });
  });

  it('names the missing keys of its section', () => {
    const issues = issuesOf(`${MINIMAL}external_database:\n  harbor:\n    host: pg\n`);
    expect(issues.map((issue) => issue.path)).toEqual([
      'external_database.harbor.db_name',
      'external_database.harbor.username',
      'external_database.harbor.password',
    ]);
    expect(issues[0].message).toMatch(/^required/);
  });
});

describe('storage', () => {
  it('maps Harbor/distribution S3 keys to the storage driver options', () => {
    const { config, warnings } = parse(`${MINIMAL}storage_service:
  ca_bundle: /etc/wharf/ca.pem
  s3:
    bucket: images
    region: eu-west-1
    regionendpoint: minio.internal:9000
    secure: false
    accesskey: AK
    secretkey: SK
    forcepathstyle: true
    rootdirectory: /registry
    chunksize: 10MiB
    v4auth: true
    multipartcopythresholdsize: 32M
  redirect:
    disable: true
`);
    expect(config.storage).toEqual({
      driver: 's3',
      bucket: 'images',
      region: 'eu-west-1',
      endpoint: 'http://minio.internal:9000',
      accessKey: 'AK',
      secretKey: 'SK',
      forcePathStyle: true,
      rootDirectory: '/registry',
      chunkSize: 10 * 1024 ** 2,
      redirect: false,
    });
    expect(config.storageRedirect).toBe(false);
    expect(config.storageCaBundleFile).toBe('/etc/wharf/ca.pem');
    expect(warnings).toEqual([expect.stringMatching(/^storage_service\.s3\.multipartcopythresholdsize: .*no effect/)]);
  });

  it('uses AWS defaults when no endpoint is given', () => {
    const { config } = parse(`${MINIMAL}storage_service:\n  s3:\n    bucket: b\n    region: us-east-2\n`);
    expect(config.storage).toEqual({ driver: 's3', bucket: 'b', region: 'us-east-2', redirect: true });
  });

  it.each([
    [
      'both drivers',
      'filesystem:\n    rootdirectory: /x\n  s3:\n    bucket: b\n    region: r',
      'storage_service',
      /either/,
    ],
    [
      'half a key pair',
      's3:\n    bucket: b\n    region: r\n    accesskey: AK',
      'storage_service.s3.secretkey',
      /required/,
    ],
    ['Signature V2', 's3:\n    bucket: b\n    region: r\n    v4auth: false', 'storage_service.s3.v4auth', /Version 4/],
    ['a tiny chunk', 's3:\n    bucket: b\n    region: r\n    chunksize: 1M', 'storage_service.s3.chunksize', /5MiB/],
    ['a missing bucket', 's3:\n    region: r', 'storage_service.s3.bucket', /required/],
    ['a relative root', 'filesystem:\n    rootdirectory: data', 'storage_service.filesystem.rootdirectory', /absolute/],
  ])('refuses %s', (_name, yaml, path, message) => {
    const issues = issuesOf(`${MINIMAL}storage_service:\n  ${yaml}\n`);
    expect(issues).toEqual([{ path, message: expect.stringMatching(message) }]);
  });
});

describe('errors name the key', () => {
  it('gives the expected range and the value read for a bad number', () => {
    const issues = issuesOf(`hostname: h
harbor_admin_password: a
external_database:
  harbor:
    host: pg
    port: abc
    db_name: d
    username: u
    password: p
`);
    expect(issues).toEqual([
      { path: 'external_database.harbor.port', message: 'expected an integer between 1 and 65535, got "abc"' },
    ]);
  });

  it.each([
    ['an unknown top-level key', 'hostnme: x', 'hostnme', 'unknown key; did you mean "hostname"?'],
    ['an unknown nested key', 'log:\n  levle: info', 'log.levle', 'unknown key; did you mean "level"?'],
    [
      'a key unlike any other',
      'http:\n  tls: true',
      'http.tls',
      'unknown key; expected one of port, host, trusted_proxies',
    ],
    ['a bad enum value', 'log:\n  level: verbose', 'log.level', expect.stringContaining('debug, info, warning')],
    ['a scalar where a section belongs', 'http: 80', 'http', 'expected a section of keys, got "80"'],
    ['a list where a value belongs', 'http:\n  port: [1, 2]', 'http.port', expect.stringContaining('got a list')],
    [
      'a bad boolean',
      'upload_purging:\n  enabled: maybe',
      'upload_purging.enabled',
      expect.stringContaining('"maybe"'),
    ],
    [
      'a zero duty cycle',
      'gc:\n  duty_cycle: 0',
      'gc.duty_cycle',
      expect.stringContaining('more than 0 and at most 1'),
    ],
    ['a duty cycle over 1', 'gc:\n  duty_cycle: 1.5', 'gc.duty_cycle', expect.stringContaining('got "1.5"')],
    ['a bad duration', 'upload_purging:\n  age: 7d', 'upload_purging.age', expect.stringContaining('168h')],
    [
      'an unknown trivy check',
      'trivy:\n  security_check: vuln,malware',
      'trivy.security_check',
      expect.stringContaining('vuln, config'),
    ],
    ['a relative trivy program', 'trivy:\n  binary: bin/trivy', 'trivy.binary', expect.stringContaining('PATH')],
    ['a relative trivy cache', 'trivy:\n  cache_dir: cache', 'trivy.cache_dir', expect.stringContaining('absolute')],
    ['a zero interval', 'upload_purging:\n  interval: 0', 'upload_purging.interval', expect.stringMatching(/positive/)],
    ['a bad size', 'log:\n  local:\n    rotate_size: big', 'log.local.rotate_size', expect.stringContaining('"big"')],
    ['a relative path', 'data_volume: data', 'data_volume', 'expected an absolute path, got "data"'],
    ['a URL as hostname', 'hostname: https://x', 'hostname', expect.stringContaining('without scheme')],
    [
      'a port clash',
      'https:\n  port: 8080\n  certificate: /c\n  private_key: /k',
      'https.port',
      'must differ from http.port (both are 8080)',
    ],
    [
      'a token realm that is no URL',
      'registry:\n  token:\n    realm: token\n    public_key: /k.pem',
      'registry.token.realm',
      expect.stringContaining('URL'),
    ],
    [
      'a manifest limit under the OCI minimum',
      'registry:\n  max_manifest_size: 1MiB',
      'registry.max_manifest_size',
      expect.stringContaining('4MiB'),
    ],
    [
      'a redis host with a bad port',
      'external_redis:\n  host: redis:99999',
      'external_redis.host',
      expect.stringContaining('host:port'),
    ],
  ])('for %s', (_name, yaml, path, message) => {
    // The override of hostname keeps the first case's typo from also making hostname missing.
    const text = `${MINIMAL.replace('hostname: registry.local\n', '')}${yaml}\n`;
    const env: Record<string, string> = path === 'hostname' ? {} : { WHARF__HOSTNAME: 'registry.local' };
    expect(issuesOf(text, env)).toEqual([{ path, message }]);
  });

  it('reports a missing required key', () => {
    expect(issuesOf('hostname: h\n')).toEqual([
      { path: 'harbor_admin_password', message: expect.stringMatching(/^required/) },
    ]);
    expect(issuesOf('hostname: h\nharbor_admin_password: a\n')).toEqual([
      { path: 'database.password', message: expect.stringMatching(/^required unless external_database/) },
    ]);
  });

  it('reports every problem at once in a readable message', () => {
    try {
      parse('hostname: h\nharbor_admin_password: a\nhttp:\n  port: 0\nlog:\n  level: loud\n');
      throw new Error('expected the configuration to be rejected');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(
        [
          'harbor.yml: 2 problems',
          '  - http.port: expected an integer between 1 and 65535, got "0"',
          '  - log.level: expected one of debug, info, warning, error, fatal, got "loud"',
        ].join('\n'),
      );
    }
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = issuesOf('hostname: h\nhttp:\n  port: 80\n  port: 81\n');
    expect(issues).toEqual([{ path: '', message: expect.stringMatching(/^invalid YAML: .*line 4/) }]);
  });

  it('refuses a file that is not a mapping', () => {
    expect(issuesOf('- a\n- b\n')).toEqual([{ path: '', message: expect.stringContaining('mapping') }]);
  });

  it('does not echo a secret given where text belongs', () => {
    const issues = issuesOf(`${MINIMAL}external_redis:\n  host: r\n  password: ""\n`);
    expect(issues).toEqual([{ path: 'external_redis.password', message: 'expected a non-empty string, got ""' }]);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file', () => {
    const file = join(dir, 'harbor.yml');
    writeFileSync(file, MINIMAL);
    expect(loadConfig(file, {}).config.hostname).toBe('registry.local');
  });

  it('names an unreadable file', () => {
    const file = join(dir, 'missing.yml');
    expect(() => loadConfig(file, {})).toThrow(ConfigError);
    expect(() => loadConfig(file, {})).toThrow(/missing\.yml: 1 problem\n {2}- cannot read the file: ENOENT/);
  });
});

describe('embedded Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-config-redis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function configIn(name: string, extra = ''): { file: string; dataVolume: string } {
    const dataVolume = join(dir, name);
    mkdirSync(dataVolume, { recursive: true });
    const file = join(dataVolume, 'harbor.yml');
    writeFileSync(file, `${MINIMAL}data_volume: ${dataVolume}\n${extra}`);
    return { file, dataVolume };
  }

  function writePassword(dataVolume: string, content: string): void {
    mkdirSync(join(dataVolume, 'secret'), { recursive: true, mode: 0o700 });
    writeFileSync(embeddedRedisPasswordFile(dataVolume), content, { mode: 0o600 });
  }

  it('listens on the port of the redis section', () => {
    const { config, warnings } = parse(`${MINIMAL}redis:\n  port: 6390\n`);
    expect(warnings).toEqual([]);
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 6390, external: false });
  });

  it('names a bad port and an unknown key of the redis section', () => {
    expect(issuesOf(`${MINIMAL}redis:\n  port: 70000\n  bind: 0.0.0.0\n`)).toEqual([
      { path: 'redis.port', message: 'expected an integer between 1 and 65535, got "70000"' },
      { path: 'redis.bind', message: 'unknown key; expected one of port' },
    ]);
  });

  it('refuses the port of the embedded PostgreSQL', () => {
    expect(issuesOf(`${MINIMAL}redis:\n  port: 55432\n`)).toEqual([
      { path: 'redis.port', message: expect.stringContaining('must differ from database.port (both are 55432)') },
    ]);
    expect(issuesOf(`${MINIMAL.replace('db-pass', 'db-pass\n  port: 7000')}redis:\n  port: 7000\n`)).toEqual([
      { path: 'redis.port', message: expect.stringContaining('both are 7000') },
    ]);
  });

  it('ignores the redis section, with a warning, when external_redis is set', () => {
    const { config, warnings } = parse(`${MINIMAL}redis:\n  port: 6390\nexternal_redis:\n  host: redis:6400\n`);
    expect(config.redis).toMatchObject({ host: 'redis', port: 6400, external: true });
    expect(warnings).toEqual([expect.stringMatching(/^redis\.port: ignored because external_redis is set/)]);
  });

  it('uses the password generated under data_volume/secret', () => {
    const { file, dataVolume } = configIn('generated');
    expect(embeddedRedisPasswordFile(dataVolume)).toBe(join(dataVolume, 'secret', 'redis.password'));
    writePassword(dataVolume, 'f00dfeed\n');
    const { config, warnings } = loadConfig(file, {});
    expect(warnings).toEqual([]);
    expect(config.redis.password).toBe('f00dfeed');
  });

  it('has no password before one is generated', () => {
    const { file } = configIn('fresh');
    const { config, warnings } = loadConfig(file, {});
    expect(warnings).toEqual([]);
    expect(config.redis.password).toBeUndefined();
  });

  it('never applies the embedded password to an external Redis', () => {
    const { file, dataVolume } = configIn('external', 'external_redis:\n  host: redis.internal:6379\n');
    writePassword(dataVolume, 'embedded-only');
    expect(loadConfig(file, {}).config.redis.password).toBeUndefined();
  });

  it('warns when the password file cannot be used', () => {
    const empty = configIn('empty');
    writePassword(empty.dataVolume, '\n');
    const loadedEmpty = loadConfig(empty.file, {});
    expect(loadedEmpty.config.redis.password).toBeUndefined();
    expect(loadedEmpty.warnings).toEqual([expect.stringContaining('is empty')]);

    const unreadable = configIn('unreadable');
    mkdirSync(embeddedRedisPasswordFile(unreadable.dataVolume), { recursive: true });
    const loadedUnreadable = loadConfig(unreadable.file, {});
    expect(loadedUnreadable.config.redis.password).toBeUndefined();
    expect(loadedUnreadable.warnings).toEqual([
      expect.stringContaining(
        `cannot read the embedded Redis password ${embeddedRedisPasswordFile(unreadable.dataVolume)} (EISDIR)`,
      ),
    ]);
  });

  it('never reads the password through a symbolic link, nor from a FIFO or an oversized file', () => {
    const linked = configIn('linked');
    const elsewhere = join(linked.dataVolume, 'elsewhere');
    writeFileSync(elsewhere, 'not-the-password');
    mkdirSync(join(linked.dataVolume, 'secret'), { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, embeddedRedisPasswordFile(linked.dataVolume));
    const loadedLinked = loadConfig(linked.file, {});
    expect(loadedLinked.config.redis.password).toBeUndefined();
    expect(loadedLinked.warnings).toEqual([expect.stringContaining('(ELOOP)')]);

    const fifo = configIn('fifo');
    mkdirSync(join(fifo.dataVolume, 'secret'), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', [embeddedRedisPasswordFile(fifo.dataVolume)]);
    const loadedFifo = loadConfig(fifo.file, {});
    expect(loadedFifo.config.redis.password).toBeUndefined();
    expect(loadedFifo.warnings).toEqual([expect.stringContaining('(ENOTREGULAR)')]);

    const big = configIn('big');
    writePassword(big.dataVolume, 'a'.repeat(5000));
    expect(loadConfig(big.file, {}).warnings).toEqual([expect.stringContaining('(EFBIG)')]);
  });
});

describe('environment overrides', () => {
  it('override keys at any depth, creating sections, before validation', () => {
    const { config } = parse(MINIMAL, {
      WHARF__HTTP__PORT: '9090',
      WHARF__EXTERNAL_DATABASE__HARBOR__HOST: 'pg.internal',
      WHARF__EXTERNAL_DATABASE__HARBOR__DB_NAME: 'registry',
      WHARF__EXTERNAL_DATABASE__HARBOR__USERNAME: 'app',
      WHARF__EXTERNAL_DATABASE__HARBOR__PASSWORD: 'from-env',
      UNRELATED: 'ignored',
      WHARF_SINGLE_UNDERSCORE: 'ignored',
    });
    expect(config.http.port).toBe(9090);
    expect(config.database).toMatchObject({ host: 'pg.internal', password: 'from-env', external: true });
  });

  it('win over the file', () => {
    const { config } = parse(MINIMAL, { WHARF__DATABASE__PASSWORD: 'injected' });
    expect(config.database.password).toBe('injected');
  });

  it('read values as YAML scalars but never cut a secret short', () => {
    const { config } = parse(MINIMAL, {
      WHARF__HARBOR_ADMIN_PASSWORD: "'quoted # not a comment'",
      WHARF__DATABASE__PASSWORD: 'pa: ss #1',
      WHARF__UPLOAD_PURGING__ENABLED: 'false',
    });
    expect(config.adminPassword).toBe('quoted # not a comment');
    expect(config.database.password).toBe('pa: ss #1');
    expect(config.uploadPurging.enabled).toBe(false);
  });

  it('unset a key when empty', () => {
    const { config } = parse(`${MINIMAL}http:\n  port: 81\n`, { WHARF__HTTP__PORT: '' });
    expect(config.http.port).toBe(8080);
  });

  it('name the variable in errors about the keys they set', () => {
    expect(issuesOf(MINIMAL, { WHARF__REGISTRY__PROT: '5001', WHARF__HTTP__PORT: 'eighty' })).toEqual([
      {
        path: 'http.port',
        message: 'expected an integer between 1 and 65535, got "eighty" (set by WHARF__HTTP__PORT)',
      },
      { path: 'registry.prot', message: 'unknown key; did you mean "port"? (set by WHARF__REGISTRY__PROT)' },
    ]);
  });

  it('refuse a name with an empty level', () => {
    expect(issuesOf(MINIMAL, { WHARF__HTTP____PORT: '1' })).toEqual([
      { path: '', message: expect.stringContaining('WHARF__HTTP____PORT') },
    ]);
  });
});

describe('http.trusted_proxies', () => {
  const PRIVATE_NETWORKS = ['127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

  it('trusts no proxy without external_url, and loopback and private networks with it', () => {
    expect(parse(MINIMAL).config.trustedProxies).toEqual([]);
    expect(parse(`${MINIMAL}external_url: https://reg.example.com\n`).config.trustedProxies).toEqual(PRIVATE_NETWORKS);
  });

  it('takes the listed addresses and ranges instead, and an empty list for none', () => {
    const listed = parse(
      `${MINIMAL}http:\n  trusted_proxies:\n    - 192.0.2.10\n    - ' 198.51.100.0/24 '\n    - 2001:db8::/032\n`,
    );
    expect(listed.config.trustedProxies).toEqual(['192.0.2.10', '198.51.100.0/24', '2001:db8::/32']);
    const none = parse(`${MINIMAL}external_url: https://reg.example.com\nhttp:\n  trusted_proxies: []\n`);
    expect(none.config.trustedProxies).toEqual([]);
  });

  it('reads a comma-separated list from the environment', () => {
    const { config } = parse(MINIMAL, { WHARF__HTTP__TRUSTED_PROXIES: '10.1.0.0/16, ::1' });
    expect(config.trustedProxies).toEqual(['10.1.0.0/16', '::1']);
  });

  it.each([
    ['a host name', 'proxy.internal'],
    ['a prefix too long for IPv4', '10.0.0.0/33'],
    ['a prefix too long for IPv6', 'fc00::/129'],
    ['an address out of range', '10.0.0.256'],
    ['a prefix that is not a number', '10.0.0.0/eight'],
    ['a netmask', '10.0.0.0/255.0.0.0'],
    ['a range of every IPv4 address', '0.0.0.0/0'],
    ['a range of every IPv6 address', '::/0'],
    ['a zone index', 'fe80::1%eth0'],
    ['an empty entry', ''],
  ])('refuses %s, naming the key and the entry', (_name, entry) => {
    const issues = issuesOf(`${MINIMAL}http:\n  trusted_proxies:\n    - 10.0.0.1\n    - '${entry}'\n`);
    expect(issues).toEqual([
      {
        path: 'http.trusted_proxies',
        message: `expected an IP address or CIDR range such as 10.0.0.0/8, got ${JSON.stringify(entry)}`,
      },
    ]);
  });

  it('refuses a section where the list belongs', () => {
    expect(issuesOf(`${MINIMAL}http:\n  trusted_proxies:\n    proxy: 10.0.0.1\n`)).toEqual([
      {
        path: 'http.trusted_proxies',
        message: 'expected a list of IP addresses or CIDR ranges, got a section of keys',
      },
    ]);
  });
});

describe('registry auth', () => {
  it('warns when authentication is off, and listens on loopback by default then', () => {
    const { config, warnings } = parse(`${MINIMAL}registry:\n  auth: none\n`);
    expect(config.registry).toMatchObject({ host: '127.0.0.1', auth: 'none' });
    expect(config.registry.token).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/^registry\.auth: none .*loopback/)]);
  });

  it('warns louder when authentication is off on a public address, and about an unused token section', () => {
    const { warnings } = parse(`${MINIMAL}registry:
  auth: none
  host: 0.0.0.0
  token:
    realm: https://auth.example.com/token
    public_key: /etc/wharf/token.pem
`);
    expect(warnings).toEqual([
      expect.stringContaining('non-loopback address 0.0.0.0: anyone who can reach port 5000'),
      'registry.token: ignored because registry.auth is none',
    ]);
  });

  it('resolves the token settings with Harbor’s service and issuer names by default', () => {
    const { config, warnings } = parse(`${MINIMAL}registry:
  port: 5001
  max_manifest_size: 8M
  token:
    realm: https://auth.example.com/token
    public_key: /etc/wharf/token.pem
`);
    expect(warnings).toEqual([]);
    expect(config.registry).toEqual({
      host: '0.0.0.0',
      port: 5001,
      auth: 'token',
      token: {
        realm: 'https://auth.example.com/token',
        service: 'harbor-registry',
        issuer: 'harbor-token-issuer',
        publicKeyFile: '/etc/wharf/token.pem',
      },
      maxManifestBytes: 8 * 1024 ** 2,
    });
  });
});
