/*
 * Where tests find the Trivy TEST DOUBLE and its vulnerability data. Run the double as Wharf runs trivy: the
 * executable `trivyDoubleBinary()`, with TRIVY_DOUBLE_DB_SOURCE=`trivyDoubleDbFixture()` in its environment so that
 * its "DB update" succeeds (or `--skip-db-update` once the cache holds the data).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureDbPath } from './vuln-db.js';

/** packages/testkit/bin/trivy: a `trivy` executable (needs the testkit built: it runs dist/doubles/trivy-cli.js). */
export function trivyDoubleBinary(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trivy');
}

/** packages/testkit/fixtures/wharf-double-db.json: the advisories the double matches packages against. */
export function trivyDoubleDbFixture(): string {
  return fixtureDbPath();
}

export { DOUBLE_DB_FILE as TRIVY_DOUBLE_DB_FILE } from './vuln-db.js';
export { compareApkVersions, compareDpkgVersions, parseDpkgVersion } from './versions.js';
