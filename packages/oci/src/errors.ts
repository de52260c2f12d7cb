/** The error codes of the OCI Distribution spec (and the distribution registry's extras clients know). */
export enum OciErrorCode {
  BLOB_UNKNOWN = 'BLOB_UNKNOWN',
  BLOB_UPLOAD_INVALID = 'BLOB_UPLOAD_INVALID',
  BLOB_UPLOAD_UNKNOWN = 'BLOB_UPLOAD_UNKNOWN',
  DIGEST_INVALID = 'DIGEST_INVALID',
  MANIFEST_BLOB_UNKNOWN = 'MANIFEST_BLOB_UNKNOWN',
  MANIFEST_INVALID = 'MANIFEST_INVALID',
  MANIFEST_UNKNOWN = 'MANIFEST_UNKNOWN',
  NAME_INVALID = 'NAME_INVALID',
  NAME_UNKNOWN = 'NAME_UNKNOWN',
  SIZE_INVALID = 'SIZE_INVALID',
  UNAUTHORIZED = 'UNAUTHORIZED',
  DENIED = 'DENIED',
  UNSUPPORTED = 'UNSUPPORTED',
  TOOMANYREQUESTS = 'TOOMANYREQUESTS',
  PAGINATION_NUMBER_INVALID = 'PAGINATION_NUMBER_INVALID',
  /** Distribution's code for a backend that is away for a moment (503): the client may retry. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** Harbor's code for a pull a project's policy refuses (content trust, vulnerability gate), with 412. */
  PROJECTPOLICYVIOLATION = 'PROJECTPOLICYVIOLATION',
  UNKNOWN = 'UNKNOWN',
}

/** One table from code to HTTP status; a thrower may override it where the spec names another status. */
export const OCI_ERROR_STATUS: Record<OciErrorCode, number> = {
  [OciErrorCode.BLOB_UNKNOWN]: 404,
  [OciErrorCode.BLOB_UPLOAD_INVALID]: 400,
  [OciErrorCode.BLOB_UPLOAD_UNKNOWN]: 404,
  [OciErrorCode.DIGEST_INVALID]: 400,
  [OciErrorCode.MANIFEST_BLOB_UNKNOWN]: 400,
  [OciErrorCode.MANIFEST_INVALID]: 400,
  [OciErrorCode.MANIFEST_UNKNOWN]: 404,
  [OciErrorCode.NAME_INVALID]: 400,
  [OciErrorCode.NAME_UNKNOWN]: 404,
  [OciErrorCode.SIZE_INVALID]: 400,
  [OciErrorCode.UNAUTHORIZED]: 401,
  [OciErrorCode.DENIED]: 403,
  [OciErrorCode.UNSUPPORTED]: 415,
  [OciErrorCode.TOOMANYREQUESTS]: 429,
  [OciErrorCode.PAGINATION_NUMBER_INVALID]: 400,
  [OciErrorCode.UNAVAILABLE]: 503,
  [OciErrorCode.PROJECTPOLICYVIOLATION]: 412,
  [OciErrorCode.UNKNOWN]: 500,
};

export class OciError extends Error {
  readonly status: number;

  constructor(
    readonly code: OciErrorCode,
    message: string,
    readonly detail?: unknown,
    status?: number,
  ) {
    super(message);
    this.name = 'OciError';
    this.status = status ?? OCI_ERROR_STATUS[code];
  }

  /** The spec's error envelope. */
  toJSON(): { errors: { code: string; message: string; detail?: unknown }[] } {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}
