import { Injectable, Logger } from '@nestjs/common';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { AccessoryType, type Descriptor, type ParsedManifest, parseManifest } from '@wharf/oci';
import { RegistryWriter } from '@wharf/registry';
import { type EntityManager } from 'typeorm';
import { type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import {
  type AccessoryDto,
  type AdditionLinkDto,
  type AdditionParams,
  type ArtifactDto,
  type ArtifactListQuery,
  type ArtifactOptions,
  type ArtifactParams,
  type CopyArtifactQuery,
  type PlatformDto,
  type ReferenceDto,
} from '../dtos/artifact.dto.js';
import { type ArtifactReference, type ListQuery, type RepositoryParams } from '../dtos/repository.dto.js';
import { type VulnerabilitiesAdditionDto } from '../dtos/scan.dto.js';
import { type TagDto } from '../dtos/tag.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, type WithHeaders, created } from '../http/responses.js';
import { ContentTrust } from '../policy/content-trust.js';
import { ImmutabilityRules } from '../policy/immutability.js';
import { throughPolicies } from '../registry/registry-errors.js';
import {
  ARTIFACT_TYPE_ANNOTATION,
  type ArtifactRecord,
  ArtifactRepository,
  CNAB_MEDIA_TYPE,
  CONFIG_TYPE_PATTERN,
  HELM_CONFIG_MEDIA_TYPE,
  IMAGE_MEDIA_TYPES,
  type TagRecord,
  WASM_ANNOTATIONS,
  WASM_CONFIG_MEDIA_TYPE,
} from '../repositories/artifact.repository.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { type ImageRepositoryRecord } from '../repositories/repository.repository.js';
import { AccessService } from './access.service.js';
import { ScanReportService } from './scan-report.service.js';
import { ArtifactPageIndex } from './artifact.page-index.js';
import { ImageRepositoryService } from './repository.service.js';

/** Go's zero time as Harbor prints it, for "never": Harbor clients compare against it. */
export const ZERO_TIME = '0001-01-01T00:00:00.000Z';

/** A config blob larger than this is not read on a request (image configs are a few KiB). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const CONFIG_CACHE_BYTES = 32 * 1024 * 1024;
/** Config blobs read from storage at the same time for one page. */
const CONFIG_READS_AT_ONCE = 16;

const CONFIG_TYPE_RE = new RegExp(CONFIG_TYPE_PATTERN);

/** The accessories an index's children inherit from it: its signatures. */
const SIGNATURE_TYPES: ReadonlySet<string> = new Set([AccessoryType.CosignSignature, AccessoryType.NotationSignature]);

interface Loaded {
  record: ArtifactRecord;
  manifest: ParsedManifest;
}

/** The manifest as stored; the registry validated it when it was pushed. */
function parseStored(record: ArtifactRecord): ParsedManifest {
  return parseManifest(record.payload, record.manifestMediaType);
}

/** Harbor's `media_type`: an image manifest's config media type, an index's own (or the type it declares). */
export function harborMediaType(record: ArtifactRecord, manifest: ParsedManifest): string {
  if (manifest.kind === 'index') return manifest.annotations?.[ARTIFACT_TYPE_ANNOTATION] ?? record.manifestMediaType;
  const annotations = manifest.annotations ?? {};
  const { variant, handler } = WASM_ANNOTATIONS;
  if (annotations[variant[0]] === variant[1] || annotations[handler[0]] === handler[1]) return WASM_CONFIG_MEDIA_TYPE;
  return manifest.config?.mediaType ?? record.manifestMediaType;
}

/** Harbor's artifact `type`, from its media type, as Harbor's processors classify artifacts. */
export function artifactKind(mediaType: string): string {
  if (IMAGE_MEDIA_TYPES.includes(mediaType)) return 'IMAGE';
  switch (mediaType) {
    case HELM_CONFIG_MEDIA_TYPE:
      return 'CHART';
    case CNAB_MEDIA_TYPE:
      return 'CNAB';
    case WASM_CONFIG_MEDIA_TYPE:
      return 'WASM';
  }
  const match = CONFIG_TYPE_RE.exec(mediaType);
  return match?.[1] ? match[1].toUpperCase() : 'UNKNOWN';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What Harbor shows of an image's config: where and when it was built, by whom, and how it runs. */
function imageAttributes(config: Record<string, unknown>): Record<string, unknown> {
  const runtime = isRecord(config.config) ? config.config : {};
  const labels = isRecord(runtime.Labels) ? runtime.Labels : {};
  let author = typeof config.author === 'string' ? config.author : '';
  // Docker's deprecated MAINTAINER lives on as a label.
  if (author === '' && typeof labels.maintainer === 'string') author = labels.maintainer;
  return {
    architecture: typeof config.architecture === 'string' ? config.architecture : '',
    os: typeof config.os === 'string' ? config.os : '',
    config: runtime,
    author,
    ...(typeof config.created === 'string' ? { created: config.created } : {}),
  };
}

function toPlatform(descriptor: Descriptor): PlatformDto | undefined {
  const platform = descriptor.platform;
  if (!platform) return undefined;
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform['os.version'] !== undefined ? { "'os.version'": platform['os.version'] } : {}),
    ...(platform['os.features'] !== undefined ? { "'os.features'": platform['os.features'] } : {}),
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
  };
}

/** A tag as the API answers it; `immutable` when a rule of its project makes it so. */
export function tagDto(tag: TagRecord, immutable: boolean): TagDto {
  return {
    id: tag.id,
    repository_id: tag.repositoryId,
    artifact_id: tag.artifactId,
    name: tag.name,
    push_time: tag.pushTime.toISOString(),
    pull_time: tag.pullTime ? tag.pullTime.toISOString() : ZERO_TIME,
    immutable,
  };
}

/** A path segment for a repository name inside its project, encoded twice over as Harbor's routes want it. */
export function encodeRepositoryName(fullName: string): { project: string; repository: string } {
  const slash = fullName.indexOf('/');
  return {
    project: fullName.slice(0, slash),
    repository: encodeURIComponent(encodeURIComponent(fullName.slice(slash + 1))),
  };
}

export function describeReference(repository: string, reference: ArtifactReference): string {
  return 'digest' in reference ? `${repository}@${reference.digest}` : `${repository}:${reference.tag}`;
}

/** Parsed config attributes by config digest: configs are immutable, so what was read once stays true. */
class ConfigAttributeCache {
  private readonly entries = new Map<string, { value: Record<string, unknown>; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Record<string, unknown> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: Record<string, unknown>, bytes: number): void {
    if (bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) this.bytes -= old.bytes;
    this.entries.delete(key);
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Harbor's artifacts: the manifests of a repository, with their tags, sizes, references and accessories. */
@Injectable()
export class ArtifactService {
  private readonly logger = new Logger(ArtifactService.name);
  private readonly configs = new ConfigAttributeCache(CONFIG_CACHE_BYTES);

  constructor(
    private readonly repositories: ImageRepositoryService,
    private readonly artifacts: ArtifactRepository,
    private readonly pageIndex: ArtifactPageIndex,
    private readonly writer: RegistryWriter,
    private readonly projects: ProjectRepository,
    private readonly access: AccessService,
    private readonly immutability: ImmutabilityRules,
    private readonly scans: ScanReportService,
    private readonly contentTrust: ContentTrust,
  ) {}

  /** The artifact a reference (digest or tag) names in the repository, or 404. */
  async find(
    repository: ImageRepositoryRecord,
    reference: ArtifactReference,
    manager?: EntityManager,
  ): Promise<ArtifactRecord> {
    const record =
      'digest' in reference
        ? await this.artifacts.findByDigest(repository.id, reference.digest, manager)
        : await this.artifacts.findByTag(repository.id, reference.tag, manager);
    if (!record) throw ApiError.notFound(`artifact ${describeReference(repository.name, reference)} not found`);
    return record;
  }

  async list(project: ProjectRef, params: RepositoryParams, query: ArtifactListQuery): Promise<Paged<ArtifactDto>> {
    const repository = await this.repositories.find(project, params.repository_name);
    const page = parsePagination(query.page, query.page_size);
    const terms = parseQuery(query.q);
    const sort = parseSort(query.sort);
    // The plain newest-first listing, which every client asks for, starts from a known position; filtered and
    // re-sorted ones are counted and paged by the query itself.
    const { items, total } =
      terms.length === 0 && sort.length === 0
        ? await this.pageIndex.page(repository, page.offset, page.pageSize)
        : await this.artifacts.list(repository.id, terms, sort, page);
    return new Paged(await this.assemble(repository, items, query), total, page.page, page.pageSize);
  }

  async get(project: ProjectRef, params: ArtifactParams, options: ArtifactOptions): Promise<ArtifactDto> {
    const repository = await this.repositories.find(project, params.repository_name);
    const record = await this.find(repository, params.reference);
    const [artifact] = await this.assemble(repository, [record], options);
    return artifact;
  }

  /**
   * Deletes an artifact as Harbor does: with its tags, its accessories (signatures, SBOMs: manifests whose subject
   * it is), and the children of an index that no tag and no other index still hold. An artifact that an index
   * lists cannot be deleted on its own. Every deleted manifest is a registry event in the same transaction, which
   * the audit log records.
   */
  async delete(auth: RequestAuth, project: ProjectRef, params: ArtifactParams): Promise<void> {
    const repository = await this.repositories.find(project, params.repository_name);
    const root = await this.find(repository, params.reference);
    const outcome = await throughPolicies(() =>
      this.writer.deleteArtifact(repository.name, root.digest, { actor: principalName(auth.principal) }),
    );
    this.pageIndex.forget(repository.name);
    if (outcome.deleted) return;
    if (outcome.reason === 'referenced') {
      throw ApiError.precondition(
        `artifact ${repository.name}@${root.digest} is referenced by the index ${outcome.parent}; delete the index instead`,
      );
    }
    throw ApiError.notFound(`artifact ${describeReference(repository.name, params.reference)} not found`);
  }

  /**
   * Copies an artifact from another repository into this one, as Harbor's copy does: the caller must be allowed to
   * read artifacts where it comes from (the route has checked that it may create them here). Nothing is pulled or
   * pushed: the blobs are linked, the manifests stored with an index's children and the accessories, and the source
   * artifact's tags set here too. The target project's storage limit and immutable tags apply; a refused copy
   * changes nothing.
   */
  async copy(
    auth: RequestAuth,
    project: ProjectRef,
    params: RepositoryParams,
    query: CopyArtifactQuery,
  ): Promise<WithHeaders<undefined>> {
    const { repository: sourceName, reference } = query.from;
    const slash = sourceName.indexOf('/');
    const sourceProject = await this.projects.findRefByName(sourceName.slice(0, slash));
    if (!sourceProject) throw ApiError.notFound(`project ${sourceName.slice(0, slash)} not found`);
    if (!(await this.access.canInProject(auth.principal, sourceProject, 'artifact', 'read'))) {
      throw ApiError.forbidden(`no permission to read artifacts of project ${sourceProject.name}`);
    }
    const source = await this.repositories.find(sourceProject, sourceName.slice(slash + 1));
    const artifact = await this.find(source, reference);
    if (artifact.accessorySubject) {
      throw new ApiError('DENIED', "the operation isn't supported for an artifact accessory");
    }
    const target = `${project.name}/${params.repository_name}`;
    const copied = await throughPolicies(() =>
      this.writer.copyArtifact({ repository: source.name, digest: artifact.digest }, target, {
        actor: principalName(auth.principal),
      }),
    );
    this.pageIndex.forget(target);
    if (!copied) throw ApiError.notFound(`artifact ${describeReference(source.name, reference)} not found`);
    const { project: projectSegment, repository } = encodeRepositoryName(target);
    const ref = 'digest' in reference ? reference.digest : reference.tag;
    return created(`/api/v2.0/projects/${projectSegment}/repositories/${repository}/artifacts/${ref}`);
  }

  /**
   * The accessories whose subject is the artifact, oldest first; each signature with `verified`: whether it verifies
   * against the project's trusted keys of its kind (null when the project trusts none).
   */
  async listAccessories(project: ProjectRef, params: ArtifactParams, query: ListQuery): Promise<Paged<AccessoryDto>> {
    const repository = await this.repositories.find(project, params.repository_name);
    const page = parsePagination(query.page, query.page_size);
    const terms = parseQuery(query.q);
    const sort = parseSort(query.sort);
    const subject = await this.find(repository, params.reference);
    const { items, total } = await this.artifacts.listAccessories(repository.id, subject.digest, terms, sort, page);
    const loaded = this.load(repository, items);
    const sizes = await this.sizes(repository, loaded);
    const accessories = await Promise.all(
      loaded.map(async (item) => ({
        ...this.accessoryDto(repository, subject, item, sizes),
        verified: await this.contentTrust.accessoryState(project.name, repository.name, {
          digest: item.record.digest,
          type: item.record.accessoryType ?? AccessoryType.Subject,
          subject: subject.digest,
          subjectMediaType: subject.manifestMediaType,
          subjectSize: subject.payload.length,
        }),
      })),
    );
    return new Paged(accessories, total, page.page, page.pageSize);
  }

  /** An addition of an image: its build history, from the image config. */
  /**
   * Harbor's vulnerabilities addition: the artifact's latest report rebuilt from the stored findings (an index's, its
   * children's merged, as Harbor reads an index), or `{}` when it was never scanned, as Harbor answers.
   */
  async getVulnerabilities(project: ProjectRef, params: ArtifactParams): Promise<VulnerabilitiesAdditionDto> {
    const repository = await this.repositories.find(project, params.repository_name);
    const record = await this.find(repository, params.reference);
    const manifest = parseStored(record);
    return this.scans.vulnerabilities({
      digest: record.digest,
      ...(manifest.kind === 'index' ? { children: manifest.manifests.map((d) => d.digest) } : {}),
    });
  }

  async getAddition(project: ProjectRef, params: AdditionParams): Promise<unknown[]> {
    const repository = await this.repositories.find(project, params.repository_name);
    const record = await this.find(repository, params.reference);
    const manifest = parseStored(record);
    const type = artifactKind(harborMediaType(record, manifest));
    if (params.addition !== 'build_history' || type !== 'IMAGE' || !manifest.config) {
      throw ApiError.badRequest(`the addition ${params.addition} is not available for an artifact of type ${type}`);
    }
    const config = await this.readConfig(manifest.config.digest);
    if (!config) {
      throw ApiError.notFound(`the config ${manifest.config.digest} of artifact ${record.digest} is not in storage`);
    }
    return Array.isArray(config.history) ? (config.history as unknown[]) : [];
  }

  /** Artifacts as the API answers them, with what `options` asks for, in a fixed number of queries per page. */
  private async assemble(
    repository: ImageRepositoryRecord,
    records: readonly ArtifactRecord[],
    options: ArtifactOptions,
  ): Promise<ArtifactDto[]> {
    if (records.length === 0) return [];
    const ids = records.map((r) => r.id);
    const loaded = this.load(repository, records);
    const [tags, accessories] = await Promise.all([
      options.with_tag ? this.artifacts.tagsOf(ids) : Promise.resolve([]),
      options.with_accessory
        ? this.artifacts.accessoriesOf(
            repository.id,
            records.map((r) => r.digest),
          )
        : Promise.resolve([]),
    ]);
    const loadedAccessories = this.load(repository, accessories);
    const inherited = options.with_inherited_accessory
      ? await this.inheritedSignatures(repository, records)
      : new Map<string, { subject: ArtifactRecord; signature: Loaded }[]>();
    const inheritedLoaded = [...inherited.values()].flat().map((entry) => entry.signature);
    const sizes = await this.sizes(repository, [...loaded, ...loadedAccessories, ...inheritedLoaded]);
    const attributes = await this.extraAttributes(loaded);
    const immutable = await this.immutability.matcher(repository.projectId);
    const overviews = options.with_scan_overview
      ? await this.scans.overviews(
          loaded.map(({ record, manifest }) => ({
            digest: record.digest,
            ...(manifest.kind === 'index' ? { children: manifest.manifests.map((d) => d.digest) } : {}),
          })),
        )
      : undefined;
    const tagsOf = new Map<number, TagDto[]>();
    for (const tag of tags) {
      const list = tagsOf.get(tag.artifactId) ?? [];
      list.push(tagDto(tag, immutable(repository.name, tag.name)));
      tagsOf.set(tag.artifactId, list);
    }
    const accessoriesOf = new Map<string, Loaded[]>();
    for (const accessory of loadedAccessories) {
      const subject = accessory.record.accessorySubject ?? '';
      accessoriesOf.set(subject, [...(accessoriesOf.get(subject) ?? []), accessory]);
    }
    const children = new Map<string, ArtifactRecord>();
    for (const item of sizes.loaded.values()) children.set(item.record.digest, item.record);

    return loaded.map(({ record, manifest }) => {
      const mediaType = harborMediaType(record, manifest);
      const type = artifactKind(mediaType);
      const artifact: ArtifactDto = {
        id: record.id,
        type,
        media_type: mediaType,
        manifest_media_type: record.manifestMediaType,
        ...(record.artifactType ? { artifact_type: record.artifactType } : {}),
        project_id: record.projectId ?? repository.projectId,
        repository_id: record.repositoryId,
        repository_name: repository.name,
        digest: record.digest,
        size: sizes.of(record.digest),
        push_time: record.pushTime.toISOString(),
        pull_time: record.pullTime ? record.pullTime.toISOString() : ZERO_TIME,
      };
      const extra = attributes.get(record.id);
      if (extra) artifact.extra_attrs = extra;
      if (manifest.annotations && Object.keys(manifest.annotations).length > 0) {
        artifact.annotations = manifest.annotations;
      }
      if (manifest.kind === 'index') {
        artifact.references = manifest.manifests.flatMap((descriptor): ReferenceDto[] => {
          const child = children.get(descriptor.digest);
          if (!child) return [];
          const platform = toPlatform(descriptor);
          return [
            {
              parent_id: record.id,
              child_id: child.id,
              child_digest: descriptor.digest,
              ...(platform ? { platform } : {}),
              ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
              ...(descriptor.urls ? { urls: descriptor.urls } : {}),
            },
          ];
        });
      }
      if (options.with_tag) artifact.tags = tagsOf.get(record.id) ?? [];
      const links = this.additionLinks(repository, record, manifest, type);
      if (links) artifact.addition_links = links;
      // Wharf keeps no labels: the list Harbor would fill is empty.
      if (options.with_label) artifact.labels = [];
      if (options.with_accessory) {
        artifact.accessories = (accessoriesOf.get(record.digest) ?? []).map((item) =>
          this.accessoryDto(repository, record, item, sizes),
        );
      }
      const overview = overviews?.get(record.digest);
      if (overview) artifact.scan_overview = overview;
      if (options.with_inherited_accessory) {
        artifact.inherited_accessories = (inherited.get(record.digest) ?? []).map(({ subject, signature }) =>
          this.accessoryDto(repository, subject, signature, sizes),
        );
      }
      return artifact;
    });
  }

  /**
   * The cosign and notation signatures of the indexes that list each of `records`, by the listed artifact's digest: a
   * signature of an index covers its children, which carry none of their own. Each keeps the index as its subject.
   */
  private async inheritedSignatures(
    repository: ImageRepositoryRecord,
    records: readonly ArtifactRecord[],
  ): Promise<Map<string, { subject: ArtifactRecord; signature: Loaded }[]>> {
    const inherited = new Map<string, { subject: ArtifactRecord; signature: Loaded }[]>();
    const parents = await this.artifacts.parentsOf(
      repository.id,
      records.map((r) => r.digest),
    );
    if (parents.length === 0) return inherited;
    const signatures = this.load(
      repository,
      (
        await this.artifacts.accessoriesOf(
          repository.id,
          parents.map((p) => p.parent.digest),
        )
      ).filter((a) => a.accessoryType !== null && SIGNATURE_TYPES.has(a.accessoryType)),
    );
    for (const { parent, children } of parents) {
      const ofParent = signatures.filter((s) => s.record.accessorySubject === parent.digest);
      for (const child of children) {
        const list = inherited.get(child) ?? [];
        for (const signature of ofParent) list.push({ subject: parent, signature });
        inherited.set(child, list);
      }
    }
    return inherited;
  }

  private accessoryDto(
    repository: ImageRepositoryRecord,
    subject: ArtifactRecord,
    accessory: Loaded,
    sizes: { of(digest: string): number },
  ): AccessoryDto {
    const { record } = accessory;
    return {
      // One accessory per artifact: a manifest has one subject.
      id: record.id,
      artifact_id: record.id,
      subject_artifact_id: subject.id,
      subject_artifact_digest: subject.digest,
      subject_artifact_repo: repository.name,
      size: sizes.of(record.digest),
      digest: record.digest,
      type: record.accessoryType ?? AccessoryType.Subject,
      icon: '',
      creation_time: record.pushTime.toISOString(),
    };
  }

  private additionLinks(
    repository: ImageRepositoryRecord,
    record: ArtifactRecord,
    manifest: ParsedManifest,
    type: string,
  ): Record<string, AdditionLinkDto> | undefined {
    if (type !== 'IMAGE' || manifest.kind !== 'image') return undefined;
    const { project, repository: name } = encodeRepositoryName(repository.name);
    const base = `/api/v2.0/projects/${project}/repositories/${name}/artifacts/${record.digest}/additions`;
    // An image is what the scanners read (the built-in one, and adapters as Harbor's are), so its report has a link.
    return {
      build_history: { href: `${base}/build_history`, absolute: false },
      vulnerabilities: { href: `${base}/vulnerabilities`, absolute: false },
    };
  }

  private load(repository: ImageRepositoryRecord, records: readonly ArtifactRecord[]): Loaded[] {
    return records.map((record) => {
      try {
        return { record, manifest: parseStored(record) };
      } catch (error) {
        // The registry validated the manifest at push; one it cannot read now still lists, with its own size.
        this.logger.warn(`manifest ${repository.name}@${record.digest} cannot be parsed: ${(error as Error).message}`);
        return { record, manifest: { mediaType: record.manifestMediaType, kind: 'image', layers: [], manifests: [] } };
      }
    });
  }

  /**
   * Sizes as Harbor counts them: a manifest with its config and layers; an index with its children's sizes.
   * Children are read in one query per level of nesting.
   */
  private async sizes(
    repository: ImageRepositoryRecord,
    items: readonly Loaded[],
  ): Promise<{ of(digest: string): number; loaded: Map<string, Loaded> }> {
    const known = new Map<string, Loaded>();
    for (const item of items) known.set(item.record.digest, item);
    let wanted = items;
    for (;;) {
      const missing = [
        ...new Set(wanted.flatMap((item) => item.manifest.manifests.map((d) => d.digest)).filter((d) => !known.has(d))),
      ];
      if (missing.length === 0) break;
      wanted = this.load(repository, await this.artifacts.findManyByDigest(repository.id, missing));
      if (wanted.length === 0) break;
      for (const item of wanted) known.set(item.record.digest, item);
    }
    const memo = new Map<string, number>();
    const sizeOf = (digest: string, path: Set<string>): number => {
      const cached = memo.get(digest);
      if (cached !== undefined) return cached;
      const item = known.get(digest);
      if (!item || path.has(digest)) return 0;
      const { record, manifest } = item;
      let size = record.payload.length;
      if (manifest.kind === 'index') {
        const inner = new Set(path).add(digest);
        for (const child of manifest.manifests) size += sizeOf(child.digest, inner);
      } else {
        size += manifest.config?.size ?? 0;
        for (const layer of manifest.layers) size += layer.size;
      }
      memo.set(digest, size);
      return size;
    };
    return { of: (digest) => sizeOf(digest, new Set()), loaded: known };
  }

  /** `extra_attrs` by artifact id: an image's build facts, or the whole config of other typed artifacts. */
  private async extraAttributes(items: readonly Loaded[]): Promise<Map<number, Record<string, unknown>>> {
    const wanted: { id: number; key: string; digest: string; image: boolean }[] = [];
    for (const { record, manifest } of items) {
      if (manifest.kind !== 'image' || !manifest.config) continue;
      const type = artifactKind(harborMediaType(record, manifest));
      if (type === 'UNKNOWN' || type === 'CNAB') continue;
      const image = type === 'IMAGE';
      const digest = manifest.config.digest;
      wanted.push({ id: record.id, key: `${image ? 'image' : 'config'}:${digest}`, digest, image });
    }
    const found = new Map<string, Record<string, unknown> | null>();
    const toRead = [
      ...new Map(wanted.filter((w) => this.configs.get(w.key) === undefined).map((w) => [w.key, w])).values(),
    ];
    await eachLimited(toRead, CONFIG_READS_AT_ONCE, async (w) => {
      try {
        const config = await this.readConfig(w.digest);
        const value = config ? (w.image ? imageAttributes(config) : config) : null;
        found.set(w.key, value);
        // A config missing from storage may yet arrive (a push in progress); only what was read is kept.
        if (value) this.configs.set(w.key, value, JSON.stringify(value).length);
      } catch (error) {
        this.logger.warn(`config ${w.digest} could not be read: ${(error as Error).message}`);
        found.set(w.key, null);
      }
    });
    const attributes = new Map<number, Record<string, unknown>>();
    for (const w of wanted) {
      const value = found.has(w.key) ? found.get(w.key) : this.configs.get(w.key);
      if (value) attributes.set(w.id, value);
    }
    return attributes;
  }

  private async readConfig(digest: string): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.artifacts.readBlob(digest, MAX_CONFIG_BYTES);
    if (!bytes) return undefined;
    try {
      const parsed: unknown = JSON.parse(bytes.toString('utf8'));
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
}
