/** The claim a registry token carries when it was issued to the scanner identity. */
export const SCANNER_CLAIM = 'wharf_scanner';

/**
 * Whether the verified claims of a registry token mark the scanner identity, which may pull anything and is not held
 * back by pull policies (content trust, vulnerability gates): it must read what it is asked to judge.
 */
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

export function isScannerToken(claims: Readonly<Record<string, unknown>> | undefined): boolean {
  return claims?.[SCANNER_CLAIM] === true;
}
