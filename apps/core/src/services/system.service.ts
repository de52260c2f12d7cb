import { Inject, Injectable } from '@nestjs/common';
import { type WharfConfig } from '@wharf/config';
import { type StorageDriver } from '@wharf/storage';
import { type Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { type Principal } from '../auth/principal.js';
import { CORE_CONFIG, REDIS, SERVED_CERTIFICATE, STORAGE } from '../constants.js';
import { type GeneralInfoDto, type OverallHealthDto } from '../dtos/system.dto.js';
import { ApiError } from '../errors/api-error.js';
import { type ServedCertificate } from '../http/tls.js';
import { WHARF_VERSION, externalUrl, registryHost } from '../urls.js';
import { ScannerService } from './scanner.service.js';
import { SettingService } from './setting.service.js';

const HEALTH_TIMEOUT_MS = 3000;

async function probe(name: string, check: () => Promise<unknown>): Promise<OverallHealthDto['components'][number]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS);
      }),
    ]);
    return { name, status: 'healthy' };
  } catch (error) {
    return { name, status: 'unhealthy', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

@Injectable()
export class SystemService {
  constructor(
    @Inject(CORE_CONFIG) private readonly config: WharfConfig,
    private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    private readonly settings: SettingService,
    private readonly scanners: ScannerService,
    @Inject(SERVED_CERTIFICATE) private readonly certificate: ServedCertificate | null,
  ) {}

  /** The CA certificate (PEM) that clients add to their trust store to reach Wharf over HTTPS. */
  caCertificate(): string {
    if (!this.certificate) {
      throw ApiError.notFound('no CA certificate: Wharf does not serve HTTPS (harbor.yml has no https section)');
    }
    return this.certificate.current.caCertificatePem;
  }

  async health(): Promise<OverallHealthDto> {
    const components = await Promise.all([
      Promise.resolve({ name: 'core', status: 'healthy' as const }),
      probe('database', () => this.dataSource.query('SELECT 1')),
      probe('redis', () => this.redis.ping()),
      // The registry runs inside core; its health is that of its storage.
      probe('registry', () => this.storage.stat('health-check')),
      // The built-in scanner, as Harbor lists its Trivy adapter: unhealthy, with the reason, without the binary.
      probe('trivy', async () => {
        const availability = await this.scanners.builtInHealth();
        if (!availability.ok) throw new Error(availability.reason);
      }),
    ]);
    return {
      status: components.every((c) => c.status === 'healthy') ? 'healthy' : 'unhealthy',
      components,
    };
  }

  async info(principal: Principal): Promise<GeneralInfoDto> {
    const settings = await this.settings.get();
    const common: GeneralInfoDto = {
      current_time: new Date().toISOString(),
      auth_mode: 'db_auth',
      primary_auth_mode: false,
      self_registration: false,
      harbor_version: `v${WHARF_VERSION}`,
      banner_message: '',
    };
    if (principal.kind === 'anonymous') return common;
    return {
      ...common,
      registry_url: registryHost(this.config),
      external_url: externalUrl(this.config),
      project_creation_restriction: settings.project_creation_restriction,
      has_ca_root: this.certificate !== null,
      registry_storage_provider_name: this.config.storage.driver,
      read_only: false,
      notification_enable: false,
    };
  }
}
