import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '@wharf/config';
import { goDuration, trivyScannerConfig } from './built-in-scanner.js';

function trivySection(trivy: Record<string, unknown>) {
  const raw = {
    hostname: 'reg.example.com',
    harbor_admin_password: 'Secret-123',
    data_volume: '/data/wharf',
    external_database: { harbor: { host: '127.0.0.1', port: 5432, db_name: 'r', username: 'u', password: 'p' } },
    external_redis: { host: '127.0.0.1:6379' },
    trivy,
  };
  const { config } = parseConfig(JSON.stringify(raw), 'harbor.yml', {});
  return config.trivy;
}

describe('the built-in scanner from the trivy: section', () => {
  it('writes durations as Go does', () => {
    expect(goDuration(300_000)).toBe('300s');
    expect(goDuration(1500)).toBe('1500ms');
  });

  it('passes every key of harbor.yml to Trivy', () => {
    expect(
      trivyScannerConfig(
        trivySection({
          ignore_unfixed: true,
          skip_update: true,
          skip_java_db_update: true,
          offline_scan: true,
          security_check: 'vuln,secret',
          insecure: true,
          timeout: '10m',
          binary: '/opt/trivy/bin/trivy',
          cache_dir: '/var/cache/trivy',
        }),
      ),
    ).toEqual({
      binary: '/opt/trivy/bin/trivy',
      cacheDir: '/var/cache/trivy',
      ignoreUnfixed: true,
      skipUpdate: true,
      skipJavaDbUpdate: true,
      offlineScan: true,
      securityCheck: 'vuln,secret',
      insecure: true,
      timeout: '600s',
    });
  });

  it('defaults to trivy on PATH, vulnerabilities only, five minutes', () => {
    expect(trivyScannerConfig(trivySection({}))).toMatchObject({
      binary: 'trivy',
      securityCheck: 'vuln',
      timeout: '300s',
      ignoreUnfixed: false,
    });
  });
});
