import { type Command, InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, rootCertificates } from 'node:tls';
import { type HttpsConfig, type WharfConfig, loadConfig } from '@wharf/config';
import { ExitCode } from '../exit-codes.js';

const CHECKS = ['database', 'redis', 'core', 'jobservice'] as const;
type Check = (typeof CHECKS)[number];

interface HealthOptions {
  config: string;
  jobservicePid?: number;
}

const TIMEOUT_MS = 5_000;

function parseCheck(value: string, previous: Check[] = []): Check[] {
  if (!(CHECKS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`unknown component; choose from: ${CHECKS.join(', ')}`);
  }
  return [...previous, value as Check];
}

function parsePid(value: string): number {
  const pid = Number(value);
  if (!/^\d+$/.test(value) || pid < 1 || pid > 2 ** 22) throw new InvalidArgumentError('expected a process id');
  return pid;
}

/** The address to reach one of core's listeners from this host (they bind http.host). */
export function localCoreUrl(config: WharfConfig, scheme: 'http' | 'https' = 'http'): string {
  const { host } = config.http;
  const port = scheme === 'https' && config.https ? config.https.port : config.http.port;
  if (host === '0.0.0.0' || host === '') return `${scheme}://127.0.0.1:${port}`;
  if (host === '::') return `${scheme}://[::1]:${port}`;
  return host.includes(':') ? `${scheme}://[${host}]:${port}` : `${scheme}://${host}:${port}`;
}

async function checkDatabase(config: WharfConfig): Promise<string> {
  const { createDataSource } = await import('@wharf/db');
  const dataSource = createDataSource({ ...config.database, maxOpenConns: 1, applicationName: 'wharf-health' });
  await dataSource.initialize();
  try {
    await dataSource.query('SELECT 1');
  } finally {
    await dataSource.destroy();
  }
  return `${config.database.host}:${config.database.port}/${config.database.database}`;
}

/**
 * Core's ping over its HTTPS listener (the HTTP one only redirects), with the certificate verified as a client would:
 * against the system's CAs and those of the configured files, for the configured hostname.
 */
async function checkCoreOverHttps(config: WharfConfig, https: HttpsConfig): Promise<string> {
  const url = `${localCoreUrl(config, 'https')}/api/v2.0/ping`;
  const files = [https.certificateFile, ...(https.caCertificateFile === undefined ? [] : [https.caCertificateFile])];
  const ca = [...rootCertificates, ...(await Promise.all(files.map((file) => readFile(file, 'utf8'))))];
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca,
        agent: false,
        timeout: TIMEOUT_MS,
        checkServerIdentity: (_host, certificate) => checkServerIdentity(config.hostname, certificate),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
  if (status !== 200) throw new Error(`GET ${url} answered ${status}`);
  return `${url} answered ${body.trim()}`;
}

async function checkCore(config: WharfConfig): Promise<string> {
  if (config.https) return checkCoreOverHttps(config, config.https);
  const url = `${localCoreUrl(config)}/api/v2.0/ping`;
  // A redirect is not core's answer: without https configured, core never sends one.
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return `${url} answered ${body.trim()}`;
}

async function runCheck(check: Check, config: WharfConfig, options: HealthOptions): Promise<string> {
  switch (check) {
    case 'database':
      return checkDatabase(config);
    case 'redis': {
      const { probeRedis } = await import('@wharf/jobservice');
      await probeRedis(config);
      return `${config.redis.host}:${config.redis.port}`;
    }
    case 'core':
      return checkCore(config);
    case 'jobservice': {
      const { probeJobService } = await import('@wharf/jobservice');
      const beats = await probeJobService(config, options.jobservicePid);
      if (beats.length === 0) {
        throw new Error(
          options.jobservicePid === undefined
            ? 'no jobservice heartbeat in Redis'
            : `no heartbeat in Redis from jobservice process ${options.jobservicePid}`,
        );
      }
      return beats
        .map(
          (beat) => `${beat.host}:${beat.pid} beat ${Math.round((Date.now() - Date.parse(beat.beatAt)) / 1000)}s ago`,
        )
        .join(', ');
    }
  }
}

/**
 * Checks that the database and Redis answer, that core answers its ping and that a jobservice keeps its heartbeat;
 * prints one line per component and exits with 1 when any is unhealthy. install.sh --status uses it.
 */
export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that Wharf and what it depends on answer')
    .argument('[component...]', `what to check: ${CHECKS.join(', ')} (all by default)`, parseCheck)
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .option('--jobservice-pid <pid>', 'require the heartbeat of this jobservice process on this host', parsePid)
    .action(async (components: Check[] | undefined, options: HealthOptions) => {
      const { config } = loadConfig(options.config);
      const checks = components && components.length > 0 ? components : [...CHECKS];
      const results = await Promise.all(
        checks.map(async (check) => {
          try {
            return { check, healthy: true, detail: await runCheck(check, config, options) };
          } catch (error) {
            return { check, healthy: false, detail: (error as Error).message.split('\n')[0] };
          }
        }),
      );
      for (const { check, healthy, detail } of results) {
        console.log(`${check}: ${healthy ? 'healthy' : 'unhealthy'} (${detail})`);
      }
      if (results.some((result) => !result.healthy)) process.exitCode = ExitCode.Failure;
    });
}
