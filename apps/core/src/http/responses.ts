/** One page of a list: the response interceptor answers the items with X-Total-Count and Link headers. */
export class Paged<T> {
  constructor(
    readonly items: T[],
    readonly total: number,
    readonly page: number,
    readonly pageSize: number,
  ) {}
}

/** A body with response headers, such as the Location of a created resource. */
export class WithHeaders<T> {
  constructor(
    readonly body: T,
    readonly headers: Record<string, string>,
  ) {}
}

/** 201 Created's Location header for a resource under /api/v2.0. */
export function created(location: string): WithHeaders<undefined> {
  return new WithHeaders(undefined, { Location: location });
}
