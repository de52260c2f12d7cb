import { type paths } from '@wharf/api-client';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The JSON body of a path's successful (200/201) answer to `method`. */
export type ResponseOf<P extends keyof paths, M extends Method = 'get'> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : never
  : never;

/** The JSON request body a path takes for `method`. */
export type RequestOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;

/** One element of an array type. */
export type ItemOf<T> = T extends readonly (infer U)[] ? U : never;

export type CurrentUser = ResponseOf<'/api/v2.0/users/current'>;
export type Project = ResponseOf<'/api/v2.0/projects/{project_name_or_id}'>;
export type ProjectListItem = ItemOf<ResponseOf<'/api/v2.0/projects'>>;
export type ProjectSummary = ResponseOf<'/api/v2.0/projects/{project_name_or_id}/summary'>;
export type Repository = ItemOf<ResponseOf<'/api/v2.0/projects/{project_name}/repositories'>>;
export type Artifact = ItemOf<ResponseOf<'/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts'>>;
export type SystemInfo = ResponseOf<'/api/v2.0/systeminfo'>;
