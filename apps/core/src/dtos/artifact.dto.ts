import { isDigest, isValidRepositoryName, isValidTag } from '@wharf/oci';
import { z } from 'zod';
import { ScanOverviewDto } from './scan.dto.js';
import { PageQuery } from './list.dto.js';
import { ArtifactReference, RepositoryNameParam, queryFlag } from './repository.dto.js';
import { TagDto } from './tag.dto.js';

export const ArtifactParams = z.object({
  project_name: z.string().min(1),
  repository_name: RepositoryNameParam,
  reference: ArtifactReference,
});
export type ArtifactParams = z.infer<typeof ArtifactParams>;

/** What an artifact response carries besides its own fields. */
const ArtifactOptionsQuery = {
  with_tag: queryFlag(true),
  with_label: queryFlag(false),
  with_scan_overview: queryFlag(false),
  with_sbom_overview: queryFlag(false),
  with_immutable_status: queryFlag(false),
  with_accessory: queryFlag(false),
  /** The signatures of the indexes that list the artifact, in `inherited_accessories`. */
  with_inherited_accessory: queryFlag(false),
  with_signature: queryFlag(false),
};

export const ArtifactListQuery = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
  ...ArtifactOptionsQuery,
});
export type ArtifactListQuery = z.infer<typeof ArtifactListQuery>;

export const ArtifactGetQuery = z.object(ArtifactOptionsQuery);
export type ArtifactGetQuery = z.infer<typeof ArtifactGetQuery>;

/** The parts of the list and get queries that shape each artifact of the answer. */
export type ArtifactOptions = Pick<
  ArtifactGetQuery,
  'with_tag' | 'with_label' | 'with_accessory' | 'with_inherited_accessory' | 'with_scan_overview'
>;

/**
 * Harbor's `Platform`. Its contract spells the two dotted keys with quotes around them (`'os.version'`), and
 * Harbor answers them so; clients written against it read those keys.
 */
export const PlatformDto = z
  .object({
    architecture: z.string().optional(),
    os: z.string().optional(),
    "'os.version'": z.string().optional(),
    "'os.features'": z.array(z.string()).optional(),
    variant: z.string().optional(),
  })
  .meta({ id: 'Platform' });
export type PlatformDto = z.infer<typeof PlatformDto>;

export const ReferenceDto = z
  .object({
    parent_id: z.number().int(),
    child_id: z.number().int(),
    child_digest: z.string(),
    platform: PlatformDto.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    urls: z.array(z.string()).optional(),
  })
  .meta({ id: 'Reference' });
export type ReferenceDto = z.infer<typeof ReferenceDto>;

export const AdditionLinkDto = z.object({ href: z.string(), absolute: z.boolean() }).meta({ id: 'AdditionLink' });
export type AdditionLinkDto = z.infer<typeof AdditionLinkDto>;

export const AccessoryDto = z
  .object({
    id: z.number().int(),
    artifact_id: z.number().int(),
    subject_artifact_id: z.number().int(),
    subject_artifact_digest: z.string(),
    subject_artifact_repo: z.string(),
    size: z.number().int(),
    digest: z.string(),
    type: z.string(),
    icon: z.string(),
    creation_time: z.string(),
    /**
     * Beyond Harbor, on the accessory list of an artifact: for a signature, whether it verifies against a key its
     * project trusts (null when the project trusts no key of its kind, or it is no signature).
     */
    verified: z.boolean().nullable().optional(),
  })
  .meta({ id: 'Accessory' });
export type AccessoryDto = z.infer<typeof AccessoryDto>;

export const AccessoryListDto = z.array(AccessoryDto);
export type AccessoryListDto = z.infer<typeof AccessoryListDto>;

export const LabelDto = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string(),
    color: z.string(),
    scope: z.string(),
    project_id: z.number().int(),
    creation_time: z.string(),
    update_time: z.string(),
  })
  .meta({ id: 'Label' });

export const ArtifactDto = z
  .object({
    id: z.number().int(),
    /** IMAGE, CHART, CNAB, WASM, a type named by the config media type, or UNKNOWN, as Harbor's processors say. */
    type: z.string(),
    /** The config's media type for a manifest; the manifest's own for an index, as Harbor reports them. */
    media_type: z.string(),
    manifest_media_type: z.string(),
    artifact_type: z.string().optional(),
    project_id: z.number().int(),
    repository_id: z.number().int(),
    repository_name: z.string(),
    digest: z.string(),
    /** Manifest, config and layers; for an index its manifest and everything its children count. */
    size: z.number().int(),
    push_time: z.string(),
    /** Harbor's zero time when the artifact was never pulled. */
    pull_time: z.string(),
    extra_attrs: z.record(z.string(), z.unknown()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    references: z.array(ReferenceDto).optional(),
    tags: z.array(TagDto).optional(),
    addition_links: z.record(z.string(), AdditionLinkDto).optional(),
    labels: z.array(LabelDto).optional(),
    accessories: z.array(AccessoryDto).optional(),
    /**
     * The cosign and notation signatures of the indexes that list this artifact: their subject is the index, whose
     * signature covers its children. Only with with_inherited_accessory=true.
     */
    inherited_accessories: z.array(AccessoryDto).optional(),
    /** With with_scan_overview=true, for an artifact scanned (an index: whose children were). */
    scan_overview: ScanOverviewDto.optional(),
  })
  .meta({ id: 'Artifact' });
export type ArtifactDto = z.infer<typeof ArtifactDto>;

export const ArtifactListDto = z.array(ArtifactDto);
export type ArtifactListDto = z.infer<typeof ArtifactListDto>;

/** The additions Harbor's contract names; which of them an artifact has depends on its type. */
export const ADDITIONS = [
  'build_history',
  'values.yaml',
  'readme.md',
  'dependencies',
  'sbom',
  'license',
  'files',
] as const;
export type Addition = (typeof ADDITIONS)[number];

export const AdditionParams = z.object({
  project_name: z.string().min(1),
  repository_name: RepositoryNameParam,
  reference: ArtifactReference,
  addition: z.enum(ADDITIONS, { error: `must be one of ${ADDITIONS.join(', ')}` }),
});
export type AdditionParams = z.infer<typeof AdditionParams>;

/** The artifact to copy, as Harbor's copy names it: `<project>/<repository>:<tag>` or `<project>/<repository>@<digest>`. */
export const CopySource = z
  .string({ error: 'is required: <project>/<repository>:<tag> or <project>/<repository>@<digest>' })
  .max(1024)
  .transform((value, ctx): { repository: string; reference: ArtifactReference } => {
    const at = value.lastIndexOf('@');
    const colon = value.lastIndexOf(':');
    const split = at >= 0 ? at : colon;
    const repository = split > 0 ? value.slice(0, split) : '';
    const reference = split > 0 ? value.slice(split + 1) : '';
    const valid =
      repository.includes('/') &&
      isValidRepositoryName(repository) &&
      (at >= 0 ? isDigest(reference) : isValidTag(reference));
    if (!valid) {
      ctx.addIssue({ code: 'custom', message: `invalid input: ${value}` });
      return z.NEVER;
    }
    return { repository, reference: at >= 0 ? { digest: reference } : { tag: reference } };
  })
  .meta({ description: 'The artifact to copy: <project>/<repository>:<tag> or <project>/<repository>@<digest>' });

export const CopyArtifactQuery = z.object({ from: CopySource });
export type CopyArtifactQuery = z.infer<typeof CopyArtifactQuery>;
