/**
 * The claim that marks a registry token issued to the scanner identity: a token that lets a scanner pull the
 * artifact it scans, past the pull policies (vulnerability and signature gates), as Harbor's scanner pull access does.
 */
export const SCANNER_TOKEN_CLAIM = 'wharf_scanner';

/** Whether a verified registry token was issued to the scanner identity. */
export function isScannerToken(claims: Readonly<Record<string, unknown>> | undefined): boolean {
  return claims?.wharf_scanner === true;
}
