import { describe, expect, it } from '@jest/globals';
import { OCI_ERROR_STATUS, OciError, OciErrorCode } from './errors.js';

describe('OciError', () => {
  it('serialises to the spec error envelope without a detail when none was given', () => {
    const error = new OciError(OciErrorCode.MANIFEST_UNKNOWN, 'manifest unknown');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }],
    });
  });

  it('carries its detail in the envelope', () => {
    const error = new OciError(OciErrorCode.BLOB_UNKNOWN, 'blob unknown', { digest: 'sha256:abc' });
    expect(error.toJSON()).toEqual({
      errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown', detail: { digest: 'sha256:abc' } }],
    });
  });

  it('keeps a falsy detail rather than dropping it', () => {
    expect(new OciError(OciErrorCode.SIZE_INVALID, 'bad size', 0).toJSON().errors[0]).toHaveProperty('detail', 0);
  });

  it('takes its status from the table unless the thrower overrides it', () => {
    expect(new OciError(OciErrorCode.NAME_UNKNOWN, 'x').status).toBe(404);
    expect(new OciError(OciErrorCode.UNAUTHORIZED, 'x').status).toBe(401);
    expect(new OciError(OciErrorCode.DENIED, 'x').status).toBe(403);
    expect(new OciError(OciErrorCode.TOOMANYREQUESTS, 'x').status).toBe(429);
    expect(new OciError(OciErrorCode.BLOB_UPLOAD_INVALID, 'x', undefined, 416).status).toBe(416);
  });

  it('is an Error with its message and name, so logs show what went wrong', () => {
    const error = new OciError(OciErrorCode.DIGEST_INVALID, 'digest mismatch');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('digest mismatch');
    expect(error.name).toBe('OciError');
  });

  it('maps every code to a 4xx or 5xx status, and the code string is the code name', () => {
    for (const code of Object.values(OciErrorCode)) {
      expect(OCI_ERROR_STATUS[code]).toBeGreaterThanOrEqual(400);
      expect(OCI_ERROR_STATUS[code]).toBeLessThan(600);
      expect(OciErrorCode[code]).toBe(code);
    }
  });

  it('uses the spec error codes', () => {
    const specCodes = [
      'BLOB_UNKNOWN',
      'BLOB_UPLOAD_INVALID',
      'BLOB_UPLOAD_UNKNOWN',
      'DIGEST_INVALID',
      'MANIFEST_BLOB_UNKNOWN',
      'MANIFEST_INVALID',
      'MANIFEST_UNKNOWN',
      'NAME_INVALID',
      'NAME_UNKNOWN',
      'SIZE_INVALID',
      'UNAUTHORIZED',
      'DENIED',
      'UNSUPPORTED',
      'TOOMANYREQUESTS',
    ];
    expect(Object.values(OciErrorCode)).toEqual(expect.arrayContaining(specCodes));
  });
});
