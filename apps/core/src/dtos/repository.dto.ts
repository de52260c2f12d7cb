import { isDigest, isValidRepositoryName, isValidTag } from '@wharf/oci';
import { z } from 'zod';
import { PageQuery } from './list.dto.js';

/** Longest description kept for a repository; the portal shows it as a short readme. */
export const REPOSITORY_DESCRIPTION_MAX = 65_535;

/**
 * A repository name inside its project as Harbor's paths carry it: a name with "/" is URL-encoded twice over
 * (`a/b` → `a%252Fb`), so after the router's decoding one more decoding gives the name.
 */
export const RepositoryNameParam = z.string().transform((raw, ctx) => {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a valid URL-encoded repository name' });
    return z.NEVER;
  }
  if (!isValidRepositoryName(name)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must be a repository name: lower-case letters and digits, separated by ".", "_", "__" or "-", ' +
        'with "/" between path components (encoded as %252F)',
    });
    return z.NEVER;
  }
  return name;
});

/**
 * A flag in a query string as Harbor's clients send it (Go's strconv.ParseBool spellings); absent takes the
 * route's default. `z.coerce.boolean` would read "false" as true.
 */
export function queryFlag(defaultValue: boolean) {
  return z
    .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', '1', '0', 't', 'f', 'T', 'F'], {
      error: 'must be true or false',
    })
    .optional()
    .transform((value) =>
      value === undefined ? defaultValue : ['true', 'True', 'TRUE', '1', 't', 'T'].includes(value),
    );
}

/** An artifact reference in a path: a digest, or a tag of the repository. */
export const ArtifactReference = z.string().transform((value, ctx): { digest: string } | { tag: string } => {
  if (value.includes(':')) {
    if (isDigest(value)) return { digest: value };
    ctx.addIssue({ code: 'custom', message: 'is neither a tag nor a valid digest (algorithm:hex)' });
    return z.NEVER;
  }
  if (isValidTag(value)) return { tag: value };
  ctx.addIssue({
    code: 'custom',
    message: 'is neither a digest nor a tag (letters, digits, "_", "." and "-", up to 128, not starting with . or -)',
  });
  return z.NEVER;
});
export type ArtifactReference = z.infer<typeof ArtifactReference>;

/** Harbor spells the project of these routes `project_name`; the guard resolves it (a name, or an id). */
export const ProjectNameParams = z.object({ project_name: z.string().min(1) });
export type ProjectNameParams = z.infer<typeof ProjectNameParams>;

export const RepositoryParams = z.object({
  project_name: z.string().min(1),
  repository_name: RepositoryNameParam,
});
export type RepositoryParams = z.infer<typeof RepositoryParams>;

export const ListQuery = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
});
export type ListQuery = z.infer<typeof ListQuery>;

export const RepositoryDto = z
  .object({
    id: z.number().int(),
    project_id: z.number().int(),
    /** The full name, with the project: `library/nginx`. */
    name: z.string(),
    description: z.string(),
    artifact_count: z.number().int(),
    pull_count: z.number().int(),
    creation_time: z.string(),
    update_time: z.string(),
  })
  .meta({ id: 'Repository' });
export type RepositoryDto = z.infer<typeof RepositoryDto>;

export const RepositoryListDto = z.array(RepositoryDto);
export type RepositoryListDto = z.infer<typeof RepositoryListDto>;

/**
 * Harbor's portal sends back the whole `Repository` it read; only the description changes, the other fields are
 * accepted and ignored. An absent description clears it, as in Harbor.
 */
export const RepositoryUpdateDto = z
  .object({
    description: z
      .string()
      .max(REPOSITORY_DESCRIPTION_MAX, `must be at most ${REPOSITORY_DESCRIPTION_MAX} characters`)
      .default(''),
  })
  .meta({ id: 'RepositoryUpdateReq' });
export type RepositoryUpdateDto = z.infer<typeof RepositoryUpdateDto>;
