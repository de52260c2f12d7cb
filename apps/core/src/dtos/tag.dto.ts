import { isValidTag } from '@wharf/oci';
import { z } from 'zod';
import { PageQuery } from './list.dto.js';
import { ArtifactReference, RepositoryNameParam, queryFlag } from './repository.dto.js';

const TAG_RULE = 'letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"';

export const TagName = z.string().refine(isValidTag, { message: `must be a tag: ${TAG_RULE}` });

export const TagDto = z
  .object({
    id: z.number().int(),
    repository_id: z.number().int(),
    artifact_id: z.number().int(),
    name: z.string(),
    /** When the tag was last pointed at this artifact. */
    push_time: z.string(),
    /** The latest pull by this tag (pulls are recorded in batches, about a second late); Harbor's zero time if none. */
    pull_time: z.string(),
    immutable: z.boolean(),
  })
  .meta({ id: 'Tag' });
export type TagDto = z.infer<typeof TagDto>;

export const TagListDto = z.array(TagDto);
export type TagListDto = z.infer<typeof TagListDto>;

export const NewTagDto = z.object({ name: TagName }).meta({ id: 'NewTag' });
export type NewTagDto = z.infer<typeof NewTagDto>;

export const TagListQuery = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
  with_immutable_status: queryFlag(false),
});
export type TagListQuery = z.infer<typeof TagListQuery>;

export const TagParams = z.object({
  project_name: z.string().min(1),
  repository_name: RepositoryNameParam,
  reference: ArtifactReference,
  tag_name: TagName,
});
export type TagParams = z.infer<typeof TagParams>;
