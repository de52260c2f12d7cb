import { Inject, Injectable } from '@nestjs/common';
import {
  type FieldSpec,
  type Pagination,
  type QueryTerm,
  QuerySyntaxError,
  type SortTerm,
  buildFilter,
  buildOrderBy,
} from '@wharf/db';
import { MediaType, parseDigest } from '@wharf/oci';
import { blobDataPath } from '@wharf/registry';
import { PathNotFoundError, type StorageDriver } from '@wharf/storage';
import { DataSource, type EntityManager } from 'typeorm';
import { STORAGE } from '../constants.js';

/** A manifest of the registry, which the API calls an artifact. */
export interface ArtifactRecord {
  id: number;
  repositoryId: number;
  projectId: number | null;
  digest: string;
  /** The manifest's own media type. */
  manifestMediaType: string;
  /** `artifactType`, else an image manifest's config media type, as the registry stored it. */
  artifactType: string | null;
  /** The manifest as pushed. */
  payload: Buffer;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  /** The artifact this one is an accessory of, by its subject field or cosign's tag convention. */
  accessorySubject: string | null;
  /** Harbor's accessory type (signature.cosign, sbom.harbor, …) when it is an accessory. */
  accessoryType: string | null;
  pushTime: Date;
  pullTime: Date | null;
}

export interface TagRecord {
  id: number;
  repositoryId: number;
  artifactId: number;
  name: string;
  /** When the tag was last pointed at its artifact. */
  pushTime: Date;
  /** The latest pull by this tag, once pulls up to it have been recorded. */
  pullTime: Date | null;
}

/** A row of `registry_tag` as the API reads it (select TAG_COLUMNS of alias t). */
export interface TagRow {
  id: string;
  repository_id: string;
  manifest_id: string;
  name: string;
  updated_at: Date;
  pull_time: Date | null;
}

export const TAG_COLUMNS = 't.id, t.repository_id, t.manifest_id, t.name, t.updated_at, t.pull_time';

export function toTagRecord(row: TagRow): TagRecord {
  return {
    id: Number(row.id),
    repositoryId: Number(row.repository_id),
    artifactId: Number(row.manifest_id),
    name: row.name,
    pushTime: row.updated_at,
    pullTime: row.pull_time,
  };
}

/** The first artifact of a block of the default order: where a deep page's keyset scan starts. */
export interface ArtifactBoundary {
  createdAt: string;
  id: string;
}

export interface ArtifactPositions {
  /** Top-level artifacts of the repository. */
  total: number;
  /** Artifacts per block: boundaries[i] is the artifact at position i * step. */
  step: number;
  boundaries: ArtifactBoundary[];
}

interface ArtifactRow {
  id: string;
  repository_id: string;
  project_id: number | null;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  payload: Buffer;
  subject_digest: string | null;
  annotations: Record<string, string> | null;
  accessory_subject: string | null;
  accessory_type: string | null;
  created_at: Date;
  pull_time: Date | null;
}

const COLUMNS = `m.id, m.repository_id, m.project_id, m.digest, m.media_type, m.artifact_type, m.payload,
  m.subject_digest, m.annotations, m.accessory_subject, m.accessory_type, m.created_at, m.pull_time`;

/**
 * What Harbor lists by default: artifacts that are neither a child of an index in the same repository nor an
 * accessory (a signature, an SBOM: a manifest attached to a subject by its subject field or cosign's tag convention).
 */
export const TOP_LEVEL = `m.accessory_subject IS NULL AND NOT EXISTS (
    SELECT 1 FROM registry_manifest_reference ref JOIN registry_manifest parent ON parent.id = ref.manifest_id
     WHERE ref.kind = 'manifest' AND ref.digest = m.digest AND parent.repository_id = m.repository_id)`;

/** The default order of artifacts, newest push first, which registry_manifest_push_idx serves. */
const DEFAULT_ORDER = 'm.created_at DESC, m.id DESC';

/** Config media types of artifacts Harbor treats as images, with the manifest types that are images themselves. */
export const IMAGE_MEDIA_TYPES: readonly string[] = [
  MediaType.OciConfig,
  MediaType.DockerConfig,
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.DockerManifestSchema1,
  MediaType.DockerManifestSchema1Signed,
];
export const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const CNAB_MEDIA_TYPE = 'application/vnd.cnab.manifest.v1';
export const WASM_CONFIG_MEDIA_TYPE = 'application/vnd.wasm.config.v1+json';
/** Harbor's default processor names an artifact after its config media type: `application/vnd.<org>.<type>.config.<v>+json`. */
export const CONFIG_TYPE_PATTERN = '^application/vnd\\.[^.]*\\.(.*)\\.config\\.[^.]*\\+json$';
/** The index annotation CNAB bundles carry their media type in. */
export const ARTIFACT_TYPE_ANNOTATION = 'org.opencontainers.artifactType';
/** Annotations by which a Wasm module marks an image manifest. */
export const WASM_ANNOTATIONS = {
  variant: ['module.wasm.image/variant', 'compat'],
  handler: ['run.oci.handler', 'wasm'],
} as const;

function sqlText(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Harbor's `media_type` of an artifact as SQL, the same rule as the service applies to a loaded manifest. */
const MEDIA_TYPE_SQL = `(CASE
  WHEN m.media_type IN (${sqlText(MediaType.OciIndex)}, ${sqlText(MediaType.DockerManifestList)})
    THEN COALESCE(m.annotations->>${sqlText(ARTIFACT_TYPE_ANNOTATION)}, m.media_type)
  WHEN m.annotations->>${sqlText(WASM_ANNOTATIONS.variant[0])} = ${sqlText(WASM_ANNOTATIONS.variant[1])}
    OR m.annotations->>${sqlText(WASM_ANNOTATIONS.handler[0])} = ${sqlText(WASM_ANNOTATIONS.handler[1])}
    THEN ${sqlText(WASM_CONFIG_MEDIA_TYPE)}
  ELSE COALESCE(
    (SELECT ref.media_type FROM registry_manifest_reference ref WHERE ref.manifest_id = m.id AND ref.kind = 'config'
      ORDER BY ref.position LIMIT 1),
    m.media_type)
  END)`;

/** Harbor's artifact `type` as SQL, derived from MEDIA_TYPE_SQL as its processors do. */
const TYPE_SQL = `(SELECT CASE
    WHEN t.media_type IN (${IMAGE_MEDIA_TYPES.map(sqlText).join(', ')}) THEN 'IMAGE'
    WHEN t.media_type = ${sqlText(HELM_CONFIG_MEDIA_TYPE)} THEN 'CHART'
    WHEN t.media_type = ${sqlText(CNAB_MEDIA_TYPE)} THEN 'CNAB'
    WHEN t.media_type = ${sqlText(WASM_CONFIG_MEDIA_TYPE)} THEN 'WASM'
    ELSE COALESCE(upper(substring(t.media_type FROM ${sqlText(CONFIG_TYPE_PATTERN)})), 'UNKNOWN')
  END FROM (SELECT ${MEDIA_TYPE_SQL} AS media_type) t)`;

const FIELDS: Record<string, FieldSpec> = {
  id: { column: 'm.id', type: 'int', range: true },
  digest: { column: 'm.digest', type: 'text', fuzzy: true },
  manifest_media_type: { column: 'm.media_type', type: 'text', fuzzy: true },
  media_type: { column: MEDIA_TYPE_SQL, type: 'text', fuzzy: true },
  artifact_type: { column: 'm.artifact_type', type: 'text', fuzzy: true },
  type: { column: TYPE_SQL, type: 'text', fuzzy: true },
  push_time: { column: 'm.created_at', type: 'time', range: true },
  pull_time: { column: 'm.pull_time', type: 'time', range: true },
  tags: {
    column: 'ARRAY(SELECT tg.name FROM registry_tag tg WHERE tg.manifest_id = m.id)',
    type: 'text',
    fuzzy: true,
    array: true,
  },
  // Wharf keeps no labels, so a label filter matches nothing, as it would in Harbor with no label attached.
  labels: { column: `'{}'::bigint[]`, type: 'int', array: true },
};

const SORTABLE: Record<string, string> = {
  id: 'm.id',
  digest: 'm.digest',
  push_time: 'm.created_at',
  // Never pulled sorts as the oldest pull, as Harbor's zero time does (PostgreSQL puts NULL first when descending).
  pull_time: `COALESCE(m.pull_time, '-infinity')`,
};

const ACCESSORY_FIELDS: Record<string, FieldSpec> = {
  digest: { column: 'm.digest', type: 'text', fuzzy: true },
  type: { column: 'm.accessory_type', type: 'text' },
  creation_time: { column: 'm.created_at', type: 'time', range: true },
};

const ACCESSORY_SORTABLE: Record<string, string> = {
  creation_time: 'm.created_at',
  digest: 'm.digest',
  type: 'm.accessory_type',
};

function toRecord(row: ArtifactRow): ArtifactRecord {
  return {
    id: Number(row.id),
    repositoryId: Number(row.repository_id),
    projectId: row.project_id,
    digest: row.digest,
    manifestMediaType: row.media_type,
    artifactType: row.artifact_type,
    payload: row.payload,
    subjectDigest: row.subject_digest,
    annotations: row.annotations,
    accessorySubject: row.accessory_subject,
    accessoryType: row.accessory_type,
    pushTime: row.created_at,
    pullTime: row.pull_time,
  };
}

/**
 * SQL for Harbor's special `q` keys of the artifact list: `tags=*` (tagged), `tags=nil` (untagged) and `tags=v`
 * (exactly that tag, by the tag's primary key), and `base=*`, which lists children and accessories too. The
 * other terms go to the field table.
 */
function splitTerms(
  repositoryId: number,
  terms: readonly QueryTerm[],
  params: unknown[],
): { conditions: string[]; rest: QueryTerm[]; base: boolean } {
  const conditions: string[] = [];
  const rest: QueryTerm[] = [];
  let base = false;
  for (const term of terms) {
    if (term.key === 'base') {
      if (term.match !== 'exact' || term.value !== '*') {
        throw new QuerySyntaxError('q', 'the value of "base" can only be "*" (list children and accessories too)');
      }
      base = true;
    } else if (term.key === 'tags' && term.match === 'exact') {
      if (term.value === '*') {
        conditions.push('EXISTS (SELECT 1 FROM registry_tag tg WHERE tg.manifest_id = m.id)');
      } else if (term.value === 'nil') {
        conditions.push('NOT EXISTS (SELECT 1 FROM registry_tag tg WHERE tg.manifest_id = m.id)');
      } else {
        conditions.push(
          `m.id IN (SELECT tg.manifest_id FROM registry_tag tg
                     WHERE tg.repository_id = $${params.push(repositoryId)} AND tg.name = $${params.push(term.value)})`,
        );
      }
    } else {
      rest.push(term);
    }
  }
  return { conditions, rest, base };
}

/** Registry manifests, tags and config blobs, read as the API's artifacts. */
@Injectable()
export class ArtifactRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(STORAGE) private readonly storage: StorageDriver,
  ) {}

  /**
   * How many top-level artifacts the repository holds, and the first artifact of every block of `step` in the
   * default order, `step` growing so that at most `maxBoundaries` are returned. One scan of the repository.
   */
  async positions(repositoryId: number, minStep: number, maxBoundaries: number): Promise<ArtifactPositions> {
    const rows = await this.dataSource.query<
      { n: string; created_at: string; id: string; total: string; step: number }[]
    >(
      `WITH ordered AS (
         SELECT m.created_at, m.id, row_number() OVER (ORDER BY ${DEFAULT_ORDER}) AS n, count(*) OVER () AS total
           FROM registry_manifest m WHERE m.repository_id = $1 AND ${TOP_LEVEL}
       ),
       sized AS (SELECT *, GREATEST($2::int, ceil(total / $3::numeric)::int) AS step FROM ordered)
       SELECT n, created_at::text AS created_at, id, total, step FROM sized WHERE (n - 1) % step = 0 ORDER BY n`,
      [repositoryId, minStep, maxBoundaries],
    );
    if (rows.length === 0) return { total: 0, step: minStep, boundaries: [] };
    return {
      total: Number(rows[0].total),
      step: rows[0].step,
      boundaries: rows.map((r) => ({ createdAt: r.created_at, id: r.id })),
    };
  }

  /** Top-level artifacts per repository, for the repositories given (absent ones hold none). */
  async countTopLevel(repositoryIds: readonly number[]): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    if (repositoryIds.length === 0) return counts;
    const rows = await this.dataSource.query<{ repository_id: string; total: string }[]>(
      `SELECT m.repository_id, count(*) AS total FROM registry_manifest m
        WHERE m.repository_id = ANY($1::bigint[]) AND ${TOP_LEVEL} GROUP BY m.repository_id`,
      [repositoryIds],
    );
    for (const row of rows) counts.set(Number(row.repository_id), Number(row.total));
    return counts;
  }

  /**
   * A page of top-level artifacts in the default order: `skip` artifacts after `from` (an artifact at a block
   * boundary, itself included), or after the start.
   */
  async pageOfTopLevel(
    repositoryId: number,
    from: ArtifactBoundary | undefined,
    skip: number,
    limit: number,
  ): Promise<ArtifactRecord[]> {
    const params: unknown[] = [repositoryId, limit, skip];
    const after = from
      ? `AND (m.created_at, m.id) <= ($${params.push(from.createdAt)}::timestamptz, $${params.push(from.id)}::bigint)`
      : '';
    const rows = await this.dataSource.query<ArtifactRow[]>(
      `SELECT ${COLUMNS} FROM registry_manifest m
        WHERE m.repository_id = $1 AND ${TOP_LEVEL} ${after}
        ORDER BY ${DEFAULT_ORDER} LIMIT $2 OFFSET $3`,
      params,
    );
    return rows.map(toRecord);
  }

  /** A page of the repository's artifacts matching `terms` (Harbor's `q`) in the order `sort` asks for. */
  async list(
    repositoryId: number,
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
  ): Promise<{ items: ArtifactRecord[]; total: number }> {
    const params: unknown[] = [repositoryId];
    const { conditions, rest, base } = splitTerms(repositoryId, terms, params);
    const where = [
      'm.repository_id = $1',
      ...(base ? [] : [TOP_LEVEL]),
      ...conditions,
      buildFilter(rest, FIELDS, params),
    ].join(' AND ');
    const order = sort.length === 0 ? DEFAULT_ORDER : buildOrderBy(sort, SORTABLE, 'm.id DESC');
    const [rows, counted] = await Promise.all([
      this.dataSource.query<ArtifactRow[]>(
        `SELECT ${COLUMNS} FROM registry_manifest m WHERE ${where} ORDER BY ${order}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: string }[]>(
        `SELECT count(*) AS total FROM registry_manifest m WHERE ${where}`,
        params,
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  async findByDigest(
    repositoryId: number,
    digest: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ArtifactRecord | undefined> {
    const rows = await manager.query<ArtifactRow[]>(
      `SELECT ${COLUMNS} FROM registry_manifest m WHERE m.repository_id = $1 AND m.digest = $2`,
      [repositoryId, digest],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findByTag(
    repositoryId: number,
    tag: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ArtifactRecord | undefined> {
    const rows = await manager.query<ArtifactRow[]>(
      `SELECT ${COLUMNS} FROM registry_tag tg JOIN registry_manifest m ON m.id = tg.manifest_id
        WHERE tg.repository_id = $1 AND tg.name = $2`,
      [repositoryId, tag],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The repository's artifacts with these digests (an index's children), in no particular order. */
  async findManyByDigest(repositoryId: number, digests: readonly string[]): Promise<ArtifactRecord[]> {
    if (digests.length === 0) return [];
    const rows = await this.dataSource.query<ArtifactRow[]>(
      `SELECT ${COLUMNS} FROM registry_manifest m WHERE m.repository_id = $1 AND m.digest = ANY($2::text[])`,
      [repositoryId, digests],
    );
    return rows.map(toRecord);
  }

  /** The tags of these artifacts, each artifact's newest first. */
  async tagsOf(artifactIds: readonly number[]): Promise<TagRecord[]> {
    if (artifactIds.length === 0) return [];
    const rows = await this.dataSource.query<TagRow[]>(
      `SELECT ${TAG_COLUMNS} FROM registry_tag t
        WHERE t.manifest_id = ANY($1::bigint[]) ORDER BY t.updated_at DESC, t.name`,
      [artifactIds],
    );
    return rows.map(toTagRecord);
  }

  /** Accessories of the artifacts `digests` in the repository, oldest first. */
  async accessoriesOf(
    repositoryId: number,
    digests: readonly string[],
    manager?: EntityManager,
  ): Promise<ArtifactRecord[]> {
    if (digests.length === 0) return [];
    const rows = await (manager ?? this.dataSource.manager).query<ArtifactRow[]>(
      `SELECT ${COLUMNS} FROM registry_manifest m
        WHERE m.repository_id = $1 AND m.accessory_subject = ANY($2::text[]) ORDER BY m.created_at, m.id`,
      [repositoryId, digests],
    );
    return rows.map(toRecord);
  }

  /** The indexes of the repository that list any of `digests`, each with the digests among them it lists. */
  async parentsOf(
    repositoryId: number,
    digests: readonly string[],
  ): Promise<{ parent: ArtifactRecord; children: string[] }[]> {
    if (digests.length === 0) return [];
    const rows = await this.dataSource.query<(ArtifactRow & { children: string[] })[]>(
      `SELECT ${COLUMNS}, ARRAY(SELECT DISTINCT ref.digest FROM registry_manifest_reference ref
                                 WHERE ref.manifest_id = m.id AND ref.kind = 'manifest'
                                   AND ref.digest = ANY($2::text[])) AS children
         FROM registry_manifest m
        WHERE m.repository_id = $1 AND m.id IN (
          SELECT ref.manifest_id FROM registry_manifest_reference ref
           WHERE ref.kind = 'manifest' AND ref.digest = ANY($2::text[]))
        ORDER BY m.created_at, m.id`,
      [repositoryId, digests],
    );
    return rows.map((row) => ({ parent: toRecord(row), children: row.children }));
  }

  /** One page of the accessories of the artifact `subjectDigest` that match `terms`, and how many match. */
  async listAccessories(
    repositoryId: number,
    subjectDigest: string,
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
  ): Promise<{ items: ArtifactRecord[]; total: number }> {
    const params: unknown[] = [repositoryId, subjectDigest];
    const where = `m.repository_id = $1 AND m.accessory_subject = $2 AND ${buildFilter(terms, ACCESSORY_FIELDS, params)}`;
    const order = sort.length === 0 ? 'm.created_at, m.id' : buildOrderBy(sort, ACCESSORY_SORTABLE, 'm.id');
    const [rows, counted] = await Promise.all([
      this.dataSource.query<ArtifactRow[]>(
        `SELECT ${COLUMNS} FROM registry_manifest m WHERE ${where} ORDER BY ${order}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: string }[]>(
        `SELECT count(*) AS total FROM registry_manifest m WHERE ${where}`,
        params,
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  /**
   * A blob's bytes from the registry's storage, or undefined when it is missing or larger than `maxBytes` (a
   * config that large is not something to parse on a request).
   */
  async readBlob(digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const parsed = parseDigest(digest);
    if (!parsed) return undefined;
    const path = blobDataPath(parsed);
    const info = await this.storage.stat(path);
    if (!info || info.size > maxBytes) return undefined;
    try {
      return await this.storage.getContent(path);
    } catch (error) {
      if (error instanceof PathNotFoundError) return undefined;
      throw error;
    }
  }
}
