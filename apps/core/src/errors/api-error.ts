/**
 * Harbor's error model: a stable code and a message in words a user understands, answered as
 * `{"errors":[{"code","message"}]}`. One table maps each code to its HTTP status.
 */
export const API_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_ENTITY: 422,
  TOO_MANY_REQUESTS: 429,
  PROJECTPOLICYVIOLATION: 412,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers, such as Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = API_ERROR_STATUS[code];
  }

  static badRequest(message: string): ApiError {
    return new ApiError('BAD_REQUEST', message);
  }

  static notFound(message: string): ApiError {
    return new ApiError('NOT_FOUND', message);
  }

  static conflict(message: string): ApiError {
    return new ApiError('CONFLICT', message);
  }

  static forbidden(message = 'forbidden'): ApiError {
    return new ApiError('FORBIDDEN', message);
  }

  static unauthorized(message = 'unauthorized'): ApiError {
    return new ApiError('UNAUTHORIZED', message);
  }

  static precondition(message: string): ApiError {
    return new ApiError('PRECONDITION', message);
  }
}

export interface ApiErrorBody {
  errors: { code: string; message: string }[];
}

export function errorBody(code: string, message: string): ApiErrorBody {
  return { errors: [{ code, message }] };
}
