import { z } from 'zod';
import { CveAllowlistDto, CveAllowlistReqDto } from './cve-allowlist.dto.js';
import { PageQuery } from './list.dto.js';

/** Harbor's project name grammar: lower case, separators only between alphanumerics. */
export const PROJECT_NAME_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const PROJECT_NAME_MAX_LENGTH = 255;
/** The largest storage limit a JSON number carries exactly. */
export const MAX_STORAGE_BYTES = Number.MAX_SAFE_INTEGER;
/** The largest id an integer column (PostgreSQL's int4) holds. */
export const INT4_MAX = 2_147_483_647;

/** A positive integer path or query parameter (a database id), as it arrives: text. */
export const IdParam = z
  .string()
  .regex(/^[0-9]{1,10}$/, 'must be a positive integer')
  .transform(Number)
  .refine((n) => n >= 1 && n <= INT4_MAX, `must be an integer from 1 to ${INT4_MAX}`);

/** A boolean query parameter: Go's strconv.ParseBool spellings Harbor clients send, nothing else. */
export const BooleanQueryParam = z
  .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', '1', '0', 't', 'f', 'T', 'F'], {
    error: 'must be true or false',
  })
  .transform((value) => ['true', 'True', 'TRUE', '1', 't', 'T'].includes(value));

/** Harbor keeps project flags as the strings "true"/"false"; JSON booleans are accepted and stored the same way. */
const MetadataFlag = z
  .union([z.enum(['true', 'false']), z.boolean()], { error: 'must be "true" or "false"' })
  .transform((value) => String(value) as 'true' | 'false');

export const SEVERITIES = ['none', 'low', 'medium', 'high', 'critical'] as const;

/** Project settings a request may set; Harbor's proxy-cache keys are ignored for the projects Wharf creates. */
export const ProjectMetadataReqDto = z
  .object({
    public: MetadataFlag.nullish(),
    enable_content_trust: MetadataFlag.nullish(),
    enable_content_trust_cosign: MetadataFlag.nullish(),
    prevent_vul: MetadataFlag.nullish(),
    severity: z.enum(SEVERITIES, { error: `must be one of ${SEVERITIES.join(', ')}` }).nullish(),
    auto_scan: MetadataFlag.nullish(),
    auto_sbom_generation: MetadataFlag.nullish(),
    reuse_sys_cve_allowlist: MetadataFlag.nullish(),
    retention_id: z.string().max(32).nullish(),
  })
  .meta({ id: 'ProjectMetadataReq' });
export type ProjectMetadataReqDto = z.infer<typeof ProjectMetadataReqDto>;

/** The metadata keys of Harbor's ProjectMetadata that Wharf keeps; others stored by a project are not shown. */
export const PROJECT_METADATA_KEYS = [
  'public',
  'enable_content_trust',
  'enable_content_trust_cosign',
  'prevent_vul',
  'severity',
  'auto_scan',
  'auto_sbom_generation',
  'reuse_sys_cve_allowlist',
  'retention_id',
] as const;
export type ProjectMetadataKey = (typeof PROJECT_METADATA_KEYS)[number];

const StorageLimit = z
  .number({ error: 'must be a number of bytes' })
  .int('must be a whole number of bytes')
  .min(-1, 'must be -1 (unlimited) or a number of bytes')
  .max(MAX_STORAGE_BYTES, `must be at most ${MAX_STORAGE_BYTES} bytes`);

const projectReqFields = {
  /** Deprecated in Harbor; still sent by replication from older versions. */
  public: z.boolean().nullish(),
  metadata: ProjectMetadataReqDto.nullish(),
  storage_limit: StorageLimit.nullish(),
  registry_id: z.number().int().nullish(),
  /** The project's CVE allowlist, which the vulnerability gate applies unless reuse_sys_cve_allowlist is true. */
  cve_allowlist: CveAllowlistReqDto.nullish(),
};

export const CreateProjectReqDto = z
  .object({
    project_name: z
      .string({ error: 'is required' })
      .min(1, 'must not be empty')
      .max(PROJECT_NAME_MAX_LENGTH, `must be at most ${PROJECT_NAME_MAX_LENGTH} characters`)
      .regex(
        PROJECT_NAME_PATTERN,
        'must be lower-case letters and digits, optionally separated by single ".", "_" or "-"',
      ),
    ...projectReqFields,
  })
  .meta({ id: 'ProjectReq' });
export type CreateProjectReqDto = z.infer<typeof CreateProjectReqDto>;

/** Harbor's ProjectReq on update: the name cannot change, so a sent one is ignored. */
export const UpdateProjectReqDto = z
  .object({
    project_name: z.string().optional(),
    ...projectReqFields,
  })
  .meta({ id: 'ProjectUpdateReq' });
export type UpdateProjectReqDto = z.infer<typeof UpdateProjectReqDto>;

export const ProjectParamsDto = z.object({
  project_name_or_id: z.string().min(1).max(PROJECT_NAME_MAX_LENGTH),
});
export type ProjectParamsDto = z.infer<typeof ProjectParamsDto>;

export const HeadProjectQueryDto = z.object({
  project_name: z.string({ error: 'is required' }).min(1, 'must not be empty').max(PROJECT_NAME_MAX_LENGTH),
});
export type HeadProjectQueryDto = z.infer<typeof HeadProjectQueryDto>;

export const ListProjectsQueryDto = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
  name: z.string().max(PROJECT_NAME_MAX_LENGTH).optional(),
  public: BooleanQueryParam.optional(),
  owner: z.string().max(255).optional(),
  with_detail: BooleanQueryParam.optional(),
});
export type ListProjectsQueryDto = z.infer<typeof ListProjectsQueryDto>;

export const ProjectMetadataDto = z
  .strictObject({
    public: z.enum(['true', 'false']),
    enable_content_trust: z.string().optional(),
    enable_content_trust_cosign: z.string().optional(),
    prevent_vul: z.string().optional(),
    severity: z.string().optional(),
    auto_scan: z.string().optional(),
    auto_sbom_generation: z.string().optional(),
    reuse_sys_cve_allowlist: z.string().optional(),
    retention_id: z.string().optional(),
  })
  .meta({ id: 'ProjectMetadata' });
export type ProjectMetadataDto = z.infer<typeof ProjectMetadataDto>;

export const ProjectDto = z
  .strictObject({
    project_id: z.number().int(),
    /** Absent when the owner's account was removed. */
    owner_id: z.number().int().optional(),
    name: z.string(),
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
    /** With details only. */
    owner_name: z.string().optional(),
    /** Harbor's deprecated single role: the highest the caller holds; absent for non-members. */
    current_user_role_id: z.number().int().min(1).max(5).optional(),
    current_user_role_ids: z.array(z.number().int().min(1).max(5)).optional(),
    repo_count: z.number().int().min(0),
    /** With details only. */
    metadata: ProjectMetadataDto.optional(),
    /** The project's own CVE allowlist (GET of one project only). */
    cve_allowlist: CveAllowlistDto.optional(),
  })
  .meta({ id: 'Project' });
export type ProjectDto = z.infer<typeof ProjectDto>;

export const ProjectListDto = z.array(ProjectDto);
export type ProjectListDto = z.infer<typeof ProjectListDto>;

export const ProjectDeletableDto = z
  .strictObject({
    deletable: z.boolean(),
    message: z.string().optional(),
  })
  .meta({ id: 'ProjectDeletable' });
export type ProjectDeletableDto = z.infer<typeof ProjectDeletableDto>;

/** Harbor's ResourceList as Wharf fills it: storage in bytes, -1 for unlimited. */
export const ResourceListDto = z.strictObject({ storage: z.number().int().min(-1) }).meta({ id: 'ResourceList' });
export type ResourceListDto = z.infer<typeof ResourceListDto>;

/** Harbor's ProjectSummaryQuota: the project's storage limit and use. */
const ProjectSummaryQuotaDto = z
  .strictObject({ hard: ResourceListDto, used: ResourceListDto })
  .meta({ id: 'ProjectSummaryQuota' });

export const ProjectSummaryDto = z
  .strictObject({
    repo_count: z.number().int().min(0),
    /** The member counts, for callers who may list members. */
    project_admin_count: z.number().int().min(0).optional(),
    maintainer_count: z.number().int().min(0).optional(),
    developer_count: z.number().int().min(0).optional(),
    guest_count: z.number().int().min(0).optional(),
    limited_guest_count: z.number().int().min(0).optional(),
    /** For callers who may read the project's quota. */
    quota: ProjectSummaryQuotaDto.optional(),
  })
  .meta({ id: 'ProjectSummary' });
export type ProjectSummaryDto = z.infer<typeof ProjectSummaryDto>;
