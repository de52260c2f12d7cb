import { z } from 'zod';
import { PROJECT_METADATA_KEYS } from './project.dto.js';

export const SearchProjectMetadataDto = z.partialRecord(z.enum(PROJECT_METADATA_KEYS), z.string());
export type SearchProjectMetadataDto = z.infer<typeof SearchProjectMetadataDto>;

/** A project in search results: Harbor's `Project` fields that describe it to the caller. */
export const SearchProjectDto = z
  .object({
    project_id: z.number().int(),
    owner_id: z.number().int().optional(),
    name: z.string(),
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
    deleted: z.boolean(),
    owner_name: z.string().optional(),
    current_user_role_id: z.number().int().optional(),
    current_user_role_ids: z.array(z.number().int()).optional(),
    repo_count: z.number().int(),
    metadata: SearchProjectMetadataDto,
  })
  .meta({ id: 'SearchProject' });
export type SearchProjectDto = z.infer<typeof SearchProjectDto>;

/** Harbor's `SearchRepository`. */
export const SearchRepositoryDto = z
  .object({
    project_id: z.number().int(),
    project_name: z.string(),
    project_public: z.boolean(),
    repository_name: z.string(),
    pull_count: z.number().int(),
    artifact_count: z.number().int(),
  })
  .meta({ id: 'SearchRepository' });
export type SearchRepositoryDto = z.infer<typeof SearchRepositoryDto>;

/** Harbor's `Search`. */
export const SearchDto = z
  .object({
    project: z.array(SearchProjectDto),
    repository: z.array(SearchRepositoryDto),
  })
  .meta({ id: 'Search' });
export type SearchDto = z.infer<typeof SearchDto>;

export const SearchQuery = z.object({
  q: z.string().max(255),
});
export type SearchQuery = z.infer<typeof SearchQuery>;
