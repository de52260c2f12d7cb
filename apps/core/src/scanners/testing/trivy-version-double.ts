import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a test double of the trivy executable that answers `trivy --version --format json` only, as Trivy prints
 * it (Version and the vulnerability database's dates), and fails on anything else. For the built-in scanner's
 * availability and metadata; scans need the full Trivy test double.
 */
export async function writeTrivyVersionDouble(dir: string, version = '0.58.1'): Promise<string> {
  const path = join(dir, 'trivy-version-double');
  const answer = JSON.stringify({
    Version: version,
    VulnerabilityDB: {
      Version: 2,
      NextUpdate: '2026-12-08T00:00:00Z',
      UpdatedAt: '2026-12-07T00:00:00Z',
      DownloadedAt: '2026-12-07T01:00:00Z',
    },
  });
  await writeFile(
    path,
    [
      '#!/bin/sh',
      'if [ "$1" = "--version" ] && [ "$2" = "--format" ] && [ "$3" = "json" ]; then',
      `  printf '%s\\n' '${answer}'`,
      '  exit 0',
      'fi',
      'echo "trivy-version-double: only --version --format json is answered" >&2',
      'exit 2',
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return path;
}
