import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type WharfConfig } from '@wharf/config';
import { ExecutionRepository, type ExecutionTrigger, isFinal } from '@wharf/db';
import { type JobContext, JobName, type JobPayload, OnJob } from '@wharf/jobs';
import { MediaType, parseManifest } from '@wharf/oci';
import {
  ScanFailedError,
  ScannerAdapterError,
  type ScannerAdapterMetadata,
  ScannerMime,
  ScannerUnavailableError,
  type TrivyScanner,
  type VulnerabilityReport,
  toVulnerabilityReport,
} from '@wharf/scanner';
import { type EntityManager } from 'typeorm';
import { type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import { CORE_CONFIG } from '../constants.js';
import { type ArtifactParams } from '../dtos/artifact.dto.js';
import { type ScanRequestDto } from '../dtos/scan.dto.js';
import { ApiError } from '../errors/api-error.js';
import { type ArtifactRecord, ArtifactRepository } from '../repositories/artifact.repository.js';
import { ImageRepositoryRepository } from '../repositories/repository.repository.js';
import { ScanReportRepository } from '../repositories/scan-report.repository.js';
import { TRIVY_SCANNER } from '../scanners/built-in-scanner.js';
import { externalUrl } from '../urls.js';
import { ArtifactService } from './artifact.service.js';
import { type RegistryEvent, OutboxConsumerService } from './outbox-consumer.service.js';
import { ImageRepositoryService } from './repository.service.js';
import { type ResolvedScanner, type ScannerRegistration, ScannerService } from './scanner.service.js';
import { TaskService } from './task.service.js';
import { TokenService } from './token.service.js';

/** The execution vendor type of an artifact's scan, as Harbor names it. */
export const IMAGE_SCAN = 'IMAGE_SCAN';

/** What a scanner that does not say otherwise reads: image manifests. */
const IMAGE_MANIFESTS: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];

/** A registry token of the scanner outlives the scan by this much: pulls of large layers start late in a scan. */
const TOKEN_MARGIN_SECONDS = 300;
/** How long a scan request waits for an adapter's metadata before it takes the image manifest types as given. */
const METADATA_TIMEOUT_MS = 10_000;
/** How long what a scanner says it reads is reused. */
const METADATA_CACHE_MS = 60_000;

/** A manifest a scan runs on: the artifact itself, or a child image of an index. */
interface ScanTarget {
  digest: string;
  mediaType: string;
}

function vulnerabilityConsumes(metadata: ScannerAdapterMetadata): string[] {
  return metadata.capabilities
    .filter((capability) => (capability.type ?? 'vulnerability') === 'vulnerability')
    .flatMap((capability) => capability.consumes_mime_types);
}

/** Why a scan failed, in words for the report's log and the task: never a credential or a stack. */
function reasonOf(error: unknown): string {
  if (error instanceof ScanFailedError || error instanceof ScannerUnavailableError) return error.message;
  if (error instanceof ScannerAdapterError) return `scanner adapter: ${error.message}`;
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** The address of the loopback listener a scanner on this machine pulls from, and whether it is plain HTTP. */
function localRegistry(config: WharfConfig): { host: string; url: string } {
  const bound = config.http.host;
  const address = bound === '0.0.0.0' || bound === '::' || bound === '' ? '127.0.0.1' : bound;
  const host = address.includes(':') ? `[${address}]` : address;
  // With https the plain listener only redirects: the scanner goes to the TLS port, whose certificate names the
  // public host, not this address (so it is not verified, as for Harbor's internal scanner).
  if (config.https) return { host: `${host}:${config.https.port}`, url: `https://${host}:${config.https.port}` };
  return { host: `${host}:${config.http.port}`, url: `http://${host}:${config.http.port}` };
}

/**
 * Harbor's scans of artifacts: a request (or a push to a project with `auto_scan`) starts an execution of vendor type
 * IMAGE_SCAN with a task and a report per scanned manifest (an index's child images); each task is a ScanArtifact job
 * that runs the project's scanner (the built-in Trivy, or an external adapter) and stores its report.
 */
@Injectable()
export class ScanService implements OnModuleInit {
  private readonly logger = new Logger(ScanService.name);
  /** What each scanner registration reads, as its metadata said lately. */
  private readonly consumed = new Map<string, { at: number; types: readonly string[] }>();

  constructor(
    private readonly scanners: ScannerService,
    private readonly reports: ScanReportRepository,
    private readonly tasks: TaskService,
    private readonly executions: ExecutionRepository,
    private readonly tokens: TokenService,
    private readonly repositories: ImageRepositoryService,
    private readonly artifactService: ArtifactService,
    private readonly artifacts: ArtifactRepository,
    private readonly repositoryRecords: ImageRepositoryRepository,
    private readonly outbox: OutboxConsumerService,
    @Inject(TRIVY_SCANNER) private readonly trivy: TrivyScanner,
    @Inject(CORE_CONFIG) private readonly config: WharfConfig,
  ) {}

  onModuleInit(): void {
    this.outbox.handle('scan-on-push', (events, manager) => this.scanPushed(events, manager));
  }

  /** POST …/scan: starts a scan of the artifact (of an index, of its child images) with the project's scanner. */
  async scan(auth: RequestAuth, project: ProjectRef, params: ArtifactParams, body: ScanRequestDto | undefined) {
    if (body?.scan_type === 'sbom') throw ApiError.badRequest('scan_type sbom is not supported yet');
    const repository = await this.repositories.find(project, params.repository_name);
    const artifact = await this.artifactService.find(repository, params.reference);
    if (artifact.accessorySubject) {
      throw ApiError.badRequest(`artifact ${repository.name}@${artifact.digest} is an accessory: it is not scanned`);
    }
    await this.start(project.projectId, repository.name, artifact, 'MANUAL', principalName(auth.principal));
  }

  /** POST …/scan/stop: stops the artifact's running scan; 400 when none runs, as Harbor answers. */
  async stop(project: ProjectRef, params: ArtifactParams, body: ScanRequestDto | undefined): Promise<void> {
    if (body?.scan_type === 'sbom') throw ApiError.badRequest('scan_type sbom is not supported yet');
    const repository = await this.repositories.find(project, params.repository_name);
    const artifact = await this.artifactService.find(repository, params.reference);
    const running = await this.executions.unfinishedExecutionId(IMAGE_SCAN, artifact.id);
    if (running === undefined) {
      throw ApiError.badRequest(`no scan of artifact ${repository.name}@${artifact.digest} is running`);
    }
    await this.stopExecution(running);
  }

  /** GET …/scan/{report_id}/log: the log of a report of the artifact (or of one of its child images). */
  async log(project: ProjectRef, params: ArtifactParams & { report_id: string }): Promise<string> {
    const repository = await this.repositories.find(project, params.repository_name);
    const artifact = await this.artifactService.find(repository, params.reference);
    const report = await this.reports.findByUuid(params.report_id);
    const digests = new Set([artifact.digest, ...this.childDigests(artifact)]);
    if (!report || !digests.has(report.digest)) {
      throw ApiError.notFound(`scan report ${params.report_id} of artifact ${artifact.digest} not found`);
    }
    if (report.status === 'Pending' || report.status === 'Running') {
      // The report keeps its log when the scan ends; until then, the log so far is its task's.
      const live = await this.taskLogOf(artifact.id, report.uuid);
      if (live !== undefined) return live;
    }
    return (await this.reports.log(report.uuid)) ?? '';
  }

  private async taskLogOf(artifactId: number, reportUuid: string): Promise<string | undefined> {
    const running = await this.executions.unfinishedExecutionId(IMAGE_SCAN, artifactId);
    if (running === undefined) return undefined;
    const tasks = await this.executions.listTasks(running, { pageSize: '100' });
    const task = tasks.items.find((item) => item.jobData?.reportUuid === reportUuid);
    return task && ((await this.executions.taskLog(task.id))?.text ?? '');
  }

  /** The scan job: runs the scanner of the registration on one manifest and stores its report. */
  @OnJob(JobName.ScanArtifact)
  async scanArtifact(payload: JobPayload<JobName.ScanArtifact>, context: JobContext): Promise<void> {
    const lines: string[] = [];
    let pending: Promise<unknown> = Promise.resolve();
    const log = (line: string) => {
      lines.push(line);
      pending = pending.then(() => context.log(line)).catch(() => undefined);
    };
    const text = async () => {
      await pending;
      return lines.length > 0 ? `${lines.join('\n')}\n` : '';
    };
    let resolved: ResolvedScanner | undefined;
    try {
      resolved = await this.scanners.scannerByUuid(payload.registrationUuid);
      if (!(await this.reports.markRunning(payload.reportUuid))) {
        log(`report ${payload.reportUuid} has ended or was replaced by a newer scan: nothing to do`);
        await pending;
        return;
      }
      log(`scanning ${payload.repository}@${payload.digest} with ${resolved.registration.name}`);
      const report =
        resolved.kind === 'built-in'
          ? await this.scanBuiltIn(payload, context.signal, log)
          : await this.scanWithAdapter(resolved.registration, resolved.client, payload, context.signal, log);
      log(`${report.vulnerabilities.length} vulnerabilities found, severity ${report.severity}`);
      if (!(await this.reports.finishReport(payload.reportUuid, report, await text()))) {
        log(`report ${payload.reportUuid} was stopped or replaced meanwhile: the result is dropped`);
        await pending;
      }
    } catch (error) {
      if (context.signal.aborted) {
        log('the scan was stopped');
        await this.reports.stopReport(payload.reportUuid, await text());
        return;
      }
      const reason = reasonOf(error);
      await this.reports.failReport(payload.reportUuid, reason, await text());
      throw new Error(reason, { cause: error });
    } finally {
      if (resolved?.kind === 'adapter') await resolved.client.close();
    }
  }

  private async scanBuiltIn(
    payload: JobPayload<JobName.ScanArtifact>,
    signal: AbortSignal,
    log: (line: string) => void,
  ): Promise<VulnerabilityReport> {
    const token = await this.scannerToken(payload.repository);
    const local = localRegistry(this.config);
    const trivyReport = await this.trivy.scanImage({
      registryHost: local.host,
      insecure: true,
      repository: payload.repository,
      digest: payload.digest,
      auth: { token },
      signal,
      onLog: log,
    });
    const info = await this.trivy.scannerInfo();
    return toVulnerabilityReport(trivyReport, info, {
      repository: payload.repository,
      digest: payload.digest,
      mime_type: payload.mediaType,
    });
  }

  private async scanWithAdapter(
    registration: ScannerRegistration,
    client: Extract<ResolvedScanner, { kind: 'adapter' }>['client'],
    payload: JobPayload<JobName.ScanArtifact>,
    signal: AbortSignal,
    log: (line: string) => void,
  ): Promise<VulnerabilityReport> {
    const token = await this.scannerToken(payload.repository);
    const url = registration.useInternalAddr ? localRegistry(this.config).url : externalUrl(this.config);
    const { id } = await client.submitScan(
      {
        registry: { url, authorization: `Bearer ${token}` },
        artifact: { repository: payload.repository, digest: payload.digest, mime_type: payload.mediaType },
      },
      { signal },
    );
    log(`the scanner accepted the scan as ${id}; waiting for its report`);
    return client.waitForReport(id, ScannerMime.VulnerabilityReport, { signal });
  }

  private async scannerToken(repository: string): Promise<string> {
    const seconds = Math.ceil(this.config.trivy.timeoutMs / 1000) + TOKEN_MARGIN_SECONDS;
    const token = await this.tokens.issueForScanner(repository, seconds);
    if (!token) throw new Error(`the project of ${repository} no longer exists`);
    return token.token;
  }

  /** Launches registry pushes of images into projects with auto_scan, once per artifact while a scan of it runs. */
  private async scanPushed(events: readonly RegistryEvent[], manager: EntityManager): Promise<void> {
    const pushes = new Map<string, RegistryEvent>();
    for (const event of events) {
      if (event.type === 'PUSH_ARTIFACT') pushes.set(`${event.repository}@${event.digest}`, event);
    }
    if (pushes.size === 0) return;
    const autoScan = new Map<string, number | undefined>();
    for (const event of pushes.values()) {
      const projectName = event.repository.slice(0, event.repository.indexOf('/'));
      if (!autoScan.has(projectName)) autoScan.set(projectName, await this.autoScanProject(projectName, manager));
      const projectId = autoScan.get(projectName);
      if (projectId === undefined) continue;
      try {
        const repository = await this.repositoryRecords.findByName(event.repository);
        const artifact = repository && (await this.artifacts.findByDigest(repository.id, event.digest));
        // Deleted since, or an accessory (a signature, an SBOM): nothing to scan.
        if (!repository || !artifact || artifact.accessorySubject) continue;
        // An index's children were pushed first, each with its own event: the index is scanned through them.
        if (
          artifact.manifestMediaType === MediaType.OciIndex ||
          artifact.manifestMediaType === MediaType.DockerManifestList
        ) {
          continue;
        }
        await this.start(projectId, repository.name, artifact, 'EVENT', event.actor ?? 'anonymous');
      } catch (error) {
        // A scan on push that cannot start (no scanner, an artifact it cannot read, one already running) is not worth
        // holding back the delivery of every event behind it.
        if (error instanceof ApiError) {
          this.logger.log(`no scan on push of ${event.repository}@${event.digest}: ${error.message}`);
          continue;
        }
        throw error;
      }
    }
  }

  private async autoScanProject(projectName: string, manager: EntityManager): Promise<number | undefined> {
    const rows = await manager.query<{ project_id: number }[]>(
      `SELECT p.project_id FROM project p JOIN project_metadata m ON m.project_id = p.project_id
        WHERE p.name = $1 AND m.name = 'auto_scan' AND m.value = 'true'`,
      [projectName],
    );
    return rows[0]?.project_id;
  }

  /**
   * One execution for the artifact, a report and a task for each manifest the project's scanner reads. 409 while a
   * scan of one of them by that scanner is unfinished; 400 when the scanner reads none of them.
   */
  private async start(
    projectId: number,
    repository: string,
    artifact: ArtifactRecord,
    trigger: ExecutionTrigger,
    operator: string,
  ): Promise<void> {
    const resolved = await this.scanners.scannerForProject(projectId, { timeoutMs: METADATA_TIMEOUT_MS });
    let consumes: readonly string[];
    try {
      consumes = await this.consumes(resolved);
    } finally {
      if (resolved.kind === 'adapter') await resolved.client.close();
    }
    const targets = await this.targets(artifact, consumes);
    if (targets.length === 0) {
      throw ApiError.badRequest(
        `the scanner ${resolved.registration.name} cannot scan artifact ${repository}@${artifact.digest} ` +
          `of media type ${artifact.manifestMediaType}`,
      );
    }
    const registrationUuid = resolved.registration.uuid;
    const latest = await this.reports.latestOfDigests(
      targets.map((target) => target.digest),
      { registrationUuid },
    );
    for (const report of latest.values()) {
      if (report.status === 'Pending' || report.status === 'Running') {
        throw ApiError.conflict(`a scan of ${repository}@${report.digest} is already running`);
      }
    }
    const started: { target: ScanTarget; reportUuid: string }[] = [];
    for (const target of targets) {
      started.push({ target, reportUuid: await this.reports.startReport({ digest: target.digest }, registrationUuid) });
    }
    try {
      await this.tasks.launchMany({
        vendorType: IMAGE_SCAN,
        vendorId: artifact.id,
        trigger,
        jobName: JobName.ScanArtifact,
        extraAttrs: { artifact: { repository, digest: artifact.digest }, operator },
        tasks: started.map(({ target, reportUuid }) => ({
          payload: {
            reportUuid,
            registrationUuid,
            projectId,
            repository,
            digest: target.digest,
            mediaType: target.mediaType,
          },
          extraAttrs: { report_uuids: [reportUuid], artifact_digest: target.digest },
        })),
      });
    } catch (error) {
      for (const { reportUuid } of started) {
        await this.reports.failReport(reportUuid, `the scan could not be queued: ${reasonOf(error)}`);
      }
      throw error;
    }
  }

  /**
   * The manifest types the scanner reads for vulnerabilities (image manifests when it cannot be asked now). An
   * adapter's answer is kept for a while, so a burst of pushes to scan does not ask it once per push.
   */
  private async consumes(resolved: ResolvedScanner): Promise<readonly string[]> {
    const uuid = resolved.registration.uuid;
    const cached = this.consumed.get(uuid);
    if (cached && Date.now() - cached.at < METADATA_CACHE_MS) return cached.types;
    try {
      const metadata =
        resolved.kind === 'built-in' ? await resolved.scanner.metadata() : await resolved.client.metadata();
      const found = vulnerabilityConsumes(metadata);
      const types = found.length > 0 ? found : IMAGE_MANIFESTS;
      this.consumed.set(uuid, { at: Date.now(), types });
      return types;
    } catch {
      // An unavailable scanner fails the scan itself, with the reason in its report, as Harbor's do.
      return IMAGE_MANIFESTS;
    }
  }

  /** The artifact if the scanner reads it; for an index, its child manifests the scanner reads (not accessories). */
  private async targets(artifact: ArtifactRecord, consumes: readonly string[]): Promise<ScanTarget[]> {
    if (consumes.includes(artifact.manifestMediaType) && this.isImage(artifact)) {
      return [{ digest: artifact.digest, mediaType: artifact.manifestMediaType }];
    }
    const children = this.childDigests(artifact);
    if (children.length === 0) return [];
    const records = await this.artifacts.findManyByDigest(artifact.repositoryId, children);
    const byDigest = new Map(records.map((record) => [record.digest, record]));
    return children
      .map((digest) => byDigest.get(digest))
      .filter(
        (record): record is ArtifactRecord =>
          record !== undefined &&
          !record.accessorySubject &&
          consumes.includes(record.manifestMediaType) &&
          this.isImage(record),
      )
      .map((record) => ({ digest: record.digest, mediaType: record.manifestMediaType }));
  }

  /** An image manifest whose config is an image config (not a chart, a signature or another artifact). */
  private isImage(record: ArtifactRecord): boolean {
    try {
      const manifest = parseManifest(record.payload, record.manifestMediaType);
      if (manifest.kind !== 'image') return false;
      const config = manifest.config?.mediaType;
      return config === MediaType.OciConfig || config === MediaType.DockerConfig;
    } catch {
      return false;
    }
  }

  private childDigests(artifact: ArtifactRecord): string[] {
    try {
      const manifest = parseManifest(artifact.payload, artifact.manifestMediaType);
      return manifest.kind === 'index' ? manifest.manifests.map((descriptor) => descriptor.digest) : [];
    } catch {
      return [];
    }
  }

  /** Stops the execution's tasks and ends the reports of those that had not started (their jobs never run). */
  private async stopExecution(executionId: number): Promise<void> {
    const execution = await this.executions.getExecution(executionId);
    if (!execution || isFinal(execution.status)) return;
    const page = await this.executions.listTasks(executionId, { pageSize: '100' });
    await this.tasks.stop(executionId);
    for (const task of page.items) {
      const uuid = task.jobData?.reportUuid;
      if (typeof uuid !== 'string') continue;
      const report = await this.reports.findByUuid(uuid);
      if (report?.status === 'Pending') await this.reports.stopReport(uuid, 'the scan was stopped before it started\n');
    }
  }
}
