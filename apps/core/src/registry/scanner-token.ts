/*
 * The scanner identity's tokens (issued by TokenService.issueForScanner) are recognised by a signed claim and their
 * binding together; the check lives with the token format in @wharf/auth. A token that may push is what Harbor lets
 * cosign and notation read an unsigned image with.
 */
export { SCANNER_TOKEN_CLAIM, isScannerToken } from '@wharf/auth';

/** Whether the verified claims of a registry token grant `push` on the repository (the Docker token `access` claim). */
export function tokenGrantsPush(claims: Readonly<Record<string, unknown>> | undefined, repository: string): boolean {
  const access = claims?.access;
  if (!Array.isArray(access)) return false;
  return access.some((entry: unknown) => {
    const grant = entry as { type?: unknown; name?: unknown; actions?: unknown };
    return (
      grant.type === 'repository' &&
      grant.name === repository &&
      Array.isArray(grant.actions) &&
      (grant.actions.includes('push') || grant.actions.includes('*'))
    );
  });
}
