import { StorageLimitExceededError } from '@wharf/db';
import { OciError } from '@wharf/oci';
import { ApiError } from '../errors/api-error.js';

/**
 * A registry policy's refusal (an OciError, which /v2 answers as it is) in the API's error model, with the same status
 * and message: 412 PRECONDITION for a tag configured as immutable, 403 DENIED for a storage limit. Anything else is
 * returned as it is.
 */
export function apiErrorOf(error: unknown): unknown {
  if (error instanceof StorageLimitExceededError) return new ApiError('DENIED', error.message);
  if (!(error instanceof OciError)) return error;
  switch (error.status) {
    case 412:
      return ApiError.precondition(error.message);
    case 403:
      return new ApiError('DENIED', error.message);
    case 404:
      return ApiError.notFound(error.message);
    default:
      return ApiError.badRequest(error.message);
  }
}

/** Runs a write of the registry's writer, answering a policy's refusal in the API's error model. */
export async function throughPolicies<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw apiErrorOf(error);
  }
}
