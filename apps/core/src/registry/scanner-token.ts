/** The claim a registry token carries when it was issued to the scanner identity. */
export const SCANNER_CLAIM = 'wharf_scanner';

/**
 * Whether the verified claims of a registry token mark the scanner identity, which may pull anything and is not held
 * back by pull policies (content trust, vulnerability gates): it must read what it is asked to judge.
 */
export function isScannerToken(claims: Readonly<Record<string, unknown>> | undefined): boolean {
  return claims?.[SCANNER_CLAIM] === true;
}
