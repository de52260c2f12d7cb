import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BUILT_IN_SCANNER_URL, parsePagination, parseQuery, parseSort } from '@wharf/db';
import {
  SCANNER_AUTH_TYPES,
  ScannerAdapterClient,
  ScannerAdapterError,
  type ScannerAdapterMetadata,
  ScannerMime,
  adapterBaseUrl,
  authorizationHeaders,
} from '@wharf/scanner';
import { type ProjectRef } from '../auth/principal.js';
import { CORE_SECRETS } from '../constants.js';
import {
  type IsDefaultDto,
  type ScannerListQuery,
  type ScannerRegistrationDto,
  type ScannerRegistrationReqDto,
  type ScannerRegistrationSettingsDto,
} from '../dtos/scanner.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, type WithHeaders, created } from '../http/responses.js';
import {
  DuplicateScannerError,
  type ScannerRegistrationFields,
  type ScannerRegistrationRecord,
  ScannerRepository,
} from '../repositories/scanner.repository.js';
import { BUILT_IN_SCANNER, type BuiltInScanner } from '../scanners/built-in-scanner.js';
import { CredentialUnreadableError, openCredential, sealCredential } from '../scanners/credential-cipher.js';
import { type CoreSecrets } from '../secrets.js';

/** Letters and digits, with single spaces, dots, underscores or hyphens between them. */
const NAME_PATTERN = /^[A-Za-z0-9]+(?:[ ._-][A-Za-z0-9]+)*$/;
/** How long a ping or a metadata read waits for the adapter. */
const PING_TIMEOUT_MS = 10_000;
/** How long the project's scanner page waits for the scanner's health. */
const HEALTH_TIMEOUT_MS = 5_000;

/** The registration of a scanner, as the API shows it: without its credential. */
export type ScannerRegistration = Omit<ScannerRegistrationRecord, 'sealedCredential'>;

/** The scanner a scan goes to: the built-in one, or an external adapter with a client set up for it. */
export type ResolvedScanner =
  | { kind: 'built-in'; registration: ScannerRegistration; scanner: BuiltInScanner }
  | {
      kind: 'adapter';
      registration: ScannerRegistration;
      /** A client with the registration's auth and certificate settings; close it when done. */
      client: ScannerAdapterClient;
    };

export function isBuiltIn(registration: { url: string }): boolean {
  return registration.url === BUILT_IN_SCANNER_URL;
}

function withoutCredential(record: ScannerRegistrationRecord): ScannerRegistration {
  const { sealedCredential: _sealed, ...rest } = record;
  return rest;
}

function toDto(record: ScannerRegistrationRecord): ScannerRegistrationDto {
  return {
    uuid: record.uuid,
    name: record.name,
    description: record.description,
    url: record.url,
    disabled: record.disabled,
    is_default: record.isDefault,
    auth: record.auth,
    skip_certVerify: record.skipCertVerify,
    use_internal_addr: record.useInternalAddr,
    immutable: record.immutable,
    create_time: record.createTime.toISOString(),
    update_time: record.updateTime.toISOString(),
  };
}

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw ApiError.badRequest(
      'name: letters and digits, with single spaces, ".", "_" or "-" between them (e.g. "Trivy 2")',
    );
  }
}

function checkUrl(url: string): string {
  try {
    adapterBaseUrl(url);
  } catch (error) {
    if (error instanceof ScannerAdapterError) throw ApiError.badRequest(`url: ${error.message}`);
    throw error;
  }
  return url.replace(/\/+$/, '');
}

function checkAuth(auth: string): void {
  if (!(SCANNER_AUTH_TYPES as readonly string[]).includes(auth)) {
    throw ApiError.badRequest('auth: one of "" (none), Basic, Bearer, X-ScannerAdapter-API-Key (or APIKey)');
  }
}

function checkCredential(auth: string, credential: string | undefined): void {
  try {
    authorizationHeaders(auth, credential);
  } catch (error) {
    if (error instanceof ScannerAdapterError) throw ApiError.badRequest(`access_credential: ${error.message}`);
    throw error;
  }
}

/** Whether the metadata offers Harbor's vulnerability report, which is what Wharf asks every scanner for. */
function checkCapabilities(metadata: ScannerAdapterMetadata): void {
  const vulnerability = metadata.capabilities.some(
    (capability) =>
      (capability.type ?? 'vulnerability') === 'vulnerability' &&
      capability.produces_mime_types.some(
        (mime) => mime === ScannerMime.VulnerabilityReport || mime === ScannerMime.HarborVulnerabilityReport,
      ),
  );
  if (!vulnerability) {
    throw new ScannerAdapterError(
      'invalid',
      `the scanner ${metadata.scanner.name} produces no Harbor vulnerability report (${ScannerMime.VulnerabilityReport})`,
    );
  }
}

/**
 * Harbor's scanner registrations: external scanners behind the Scanner Adapter API v1 and the built-in Trivy
 * scanner (registration `Trivy`, url `builtin:trivy`, immutable), one of them the system default; and each
 * project's scanner. Access credentials are kept sealed with the install's encryption key and never answered.
 */
@Injectable()
export class ScannerService {
  private readonly log = new Logger('ScannerService');

  constructor(
    private readonly registrations: ScannerRepository,
    @Inject(CORE_SECRETS) private readonly secrets: CoreSecrets,
    @Inject(BUILT_IN_SCANNER) private readonly builtIn: BuiltInScanner,
  ) {}

  async list(query: ScannerListQuery, options: { enabledOnly?: boolean } = {}): Promise<Paged<ScannerRegistrationDto>> {
    const page = parsePagination(query.page, query.page_size);
    const { items, total } = await this.registrations.list(parseQuery(query.q), parseSort(query.sort), page, options);
    return new Paged(items.map(toDto), total, page.page, page.pageSize);
  }

  async get(uuid: string): Promise<ScannerRegistrationDto> {
    return toDto(await this.record(uuid));
  }

  /** Adds a registration as Harbor does, without asking the adapter (use ping for that). */
  async create(body: ScannerRegistrationReqDto): Promise<WithHeaders<undefined>> {
    const uuid = randomUUID();
    const auth = body.auth ?? '';
    const fields = this.fieldsOf(uuid, body, auth, body.access_credential || undefined);
    await this.registrations.insert(uuid, fields).catch((error: unknown) => {
      throw error instanceof DuplicateScannerError ? ApiError.conflict(error.message) : error;
    });
    this.log.log(`scanner registration ${fields.name} (${uuid}) added, url ${fields.url}`);
    return created(`/api/v2.0/scanners/${uuid}`);
  }

  /**
   * Changes a registration. An omitted or empty access_credential keeps the stored one while auth still needs one,
   * as Harbor does; clearing auth drops it. The built-in scanner's registration is immutable (403).
   */
  async update(uuid: string, body: ScannerRegistrationReqDto): Promise<void> {
    const current = await this.record(uuid);
    if (current.immutable) {
      throw ApiError.forbidden(`scanner registration ${current.name} is immutable: it cannot be changed`);
    }
    const auth = body.auth ?? '';
    let credential = body.access_credential || undefined;
    if (credential === undefined && auth !== '' && current.sealedCredential) {
      credential = this.open(current);
    }
    const fields = this.fieldsOf(uuid, body, auth, credential);
    if (current.isDefault && fields.disabled) {
      throw ApiError.badRequest(
        `scanner registration ${current.name} is the system default: make another one the default before disabling it`,
      );
    }
    const changed = await this.registrations.update(uuid, fields).catch((error: unknown) => {
      throw error instanceof DuplicateScannerError ? ApiError.conflict(error.message) : error;
    });
    if (!changed) throw ApiError.notFound(`scanner registration ${uuid} not found`);
    this.log.log(`scanner registration ${fields.name} (${uuid}) changed`);
  }

  /** Deletes a registration and answers it; the built-in one (immutable) and the default cannot be deleted (403). */
  async delete(uuid: string): Promise<ScannerRegistrationDto> {
    const current = await this.record(uuid);
    if (current.immutable) {
      throw ApiError.forbidden(`scanner registration ${current.name} is immutable: it cannot be deleted`);
    }
    if (current.isDefault) {
      throw ApiError.forbidden(
        `scanner registration ${current.name} is the system default: make another one the default before deleting it`,
      );
    }
    if (!(await this.registrations.delete(uuid))) throw ApiError.notFound(`scanner registration ${uuid} not found`);
    this.log.log(`scanner registration ${current.name} (${uuid}) deleted`);
    return toDto(current);
  }

  /** PATCH: `{is_default: true}` makes the registration the one system default; false changes nothing, as Harbor. */
  async setDefault(uuid: string, body: IsDefaultDto): Promise<void> {
    const current = await this.record(uuid);
    if (!body.is_default) return;
    if (current.disabled) {
      throw ApiError.badRequest(`scanner registration ${current.name} is disabled: it cannot be the system default`);
    }
    if (!(await this.registrations.setDefault(uuid))) {
      throw ApiError.notFound(`scanner registration ${uuid} not found or disabled`);
    }
  }

  /** Asks the adapter for its metadata with the given settings: 400 with the reason when that fails. */
  async ping(settings: ScannerRegistrationSettingsDto): Promise<void> {
    checkName(settings.name);
    const url = checkUrl(settings.url);
    const auth = settings.auth ?? '';
    checkAuth(auth);
    checkCredential(auth, settings.access_credential || undefined);
    const client = new ScannerAdapterClient({
      url,
      auth,
      accessCredential: settings.access_credential || undefined,
      timeoutMs: PING_TIMEOUT_MS,
    });
    try {
      checkCapabilities(await client.metadata());
    } catch (error) {
      if (error instanceof ScannerAdapterError) throw ApiError.badRequest(`ping ${url}: ${error.message}`);
      throw error;
    } finally {
      await client.close();
    }
  }

  /** The scanner's metadata: the built-in one's from its provider, an adapter's from GET /api/v1/metadata. */
  async metadata(uuid: string): Promise<ScannerAdapterMetadata> {
    const record = await this.record(uuid);
    try {
      return await this.fetchMetadata(record, PING_TIMEOUT_MS);
    } catch (error) {
      if (isBuiltIn(record)) {
        throw new ApiError('SERVICE_UNAVAILABLE', `scanner ${record.name} is unavailable: ${(error as Error).message}`);
      }
      if (error instanceof ScannerAdapterError) {
        throw new ApiError('SERVICE_UNAVAILABLE', `scanner ${record.name}: ${error.message}`);
      }
      throw error;
    }
  }

  private async fetchMetadata(record: ScannerRegistrationRecord, timeoutMs: number): Promise<ScannerAdapterMetadata> {
    if (isBuiltIn(record)) return this.builtIn.metadata();
    const client = this.clientOf(record, timeoutMs);
    try {
      return await client.metadata();
    } finally {
      await client.close();
    }
  }

  /**
   * The project's scanner: the one bound to it, or the system default; with its health and what its metadata says
   * (adapter, vendor, version, capabilities), as Harbor shows it on the project's scanner page.
   */
  async projectScanner(project: ProjectRef): Promise<ScannerRegistrationDto> {
    const record = await this.projectRecord(project.projectId);
    const dto = toDto(record);
    let metadata: ScannerAdapterMetadata;
    try {
      metadata = await this.fetchMetadata(record, HEALTH_TIMEOUT_MS);
    } catch {
      return { ...dto, health: 'unhealthy' };
    }
    const supports = (type: 'vulnerability' | 'sbom') =>
      metadata.capabilities.some((capability) => (capability.type ?? 'vulnerability') === type);
    return {
      ...dto,
      health: 'healthy',
      adapter: metadata.scanner.name,
      vendor: metadata.scanner.vendor,
      version: metadata.scanner.version,
      capabilities: { support_vulnerability: supports('vulnerability'), support_sbom: supports('sbom') },
    };
  }

  async setProjectScanner(project: ProjectRef, uuid: string): Promise<void> {
    if (!(await this.registrations.bindProject(project.projectId, uuid))) {
      throw ApiError.badRequest(`scanner registration ${uuid} does not exist or is disabled`);
    }
  }

  /**
   * The scanner a scan of an artifact of the project goes to, ready to use: the built-in scanner or a client of the
   * adapter (with the decrypted credential). A disabled registration is refused.
   */
  async scannerForProject(projectId: number, options: { timeoutMs?: number } = {}): Promise<ResolvedScanner> {
    return this.resolve(await this.projectRecord(projectId), options);
  }

  /** The same for a registration named by its uuid (a scan of a given scanner, e.g. one stored with a report). */
  async scannerByUuid(uuid: string, options: { timeoutMs?: number } = {}): Promise<ResolvedScanner> {
    return this.resolve(await this.record(uuid), options);
  }

  /** The built-in scanner's health, as /health lists it. */
  async builtInHealth(): Promise<{ ok: true } | { ok: false; reason: string }> {
    return this.builtIn.available();
  }

  private resolve(record: ScannerRegistrationRecord, options: { timeoutMs?: number }): ResolvedScanner {
    if (record.disabled) throw ApiError.precondition(`scanner registration ${record.name} is disabled`);
    if (isBuiltIn(record)) return { kind: 'built-in', registration: withoutCredential(record), scanner: this.builtIn };
    return {
      kind: 'adapter',
      registration: withoutCredential(record),
      client: this.clientOf(record, options.timeoutMs),
    };
  }

  private async projectRecord(projectId: number): Promise<ScannerRegistrationRecord> {
    const bound = await this.registrations.projectRegistration(projectId);
    if (bound) return bound;
    const fallback = await this.registrations.getDefault();
    if (!fallback) throw ApiError.notFound('no scanner registration is the system default');
    return fallback;
  }

  private async record(uuid: string): Promise<ScannerRegistrationRecord> {
    const record = await this.registrations.get(uuid);
    if (!record) throw ApiError.notFound(`scanner registration ${uuid} not found`);
    return record;
  }

  private clientOf(record: ScannerRegistrationRecord, timeoutMs?: number): ScannerAdapterClient {
    return new ScannerAdapterClient({
      url: record.url,
      auth: record.auth,
      accessCredential: record.sealedCredential ? this.open(record) : undefined,
      skipCertVerify: record.skipCertVerify,
      timeoutMs,
    });
  }

  private open(record: ScannerRegistrationRecord): string {
    try {
      return openCredential(this.secrets.encryptionKey, record.sealedCredential!, record.uuid);
    } catch (error) {
      if (error instanceof CredentialUnreadableError) {
        throw new ApiError('INTERNAL_SERVER_ERROR', `scanner registration ${record.name}: ${error.message}`);
      }
      throw error;
    }
  }

  private fieldsOf(
    uuid: string,
    body: ScannerRegistrationReqDto,
    auth: string,
    credential: string | undefined,
  ): ScannerRegistrationFields {
    checkName(body.name);
    const url = checkUrl(body.url);
    checkAuth(auth);
    checkCredential(auth, credential);
    return {
      name: body.name,
      description: body.description ?? '',
      url,
      disabled: body.disabled ?? false,
      skipCertVerify: body.skip_certVerify ?? false,
      auth,
      // No auth, no credential kept: a credential given without auth is dropped, as it would never be sent.
      sealedCredential:
        auth === '' || !credential ? null : sealCredential(this.secrets.encryptionKey, credential, uuid),
      useInternalAddr: body.use_internal_addr ?? false,
    };
  }
}
