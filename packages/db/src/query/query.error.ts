/** The list parameter a {@link QuerySyntaxError} is about. */
export type ListParameter = 'q' | 'sort' | 'page' | 'page_size';

/**
 * A list request's `q`, `sort`, `page` or `page_size` cannot be understood. The API answers it with
 * `400 BAD_REQUEST`; the message is written for the person who typed the query.
 */
export class QuerySyntaxError extends Error {
  override readonly name = 'QuerySyntaxError';
  readonly code = 'BAD_REQUEST';

  constructor(
    readonly parameter: ListParameter,
    detail: string,
  ) {
    super(`${parameter}: ${detail}`);
  }
}
