/** The scan report model shared by every scanner, and the scanners that produce it. */
export const SCANNER_PACKAGE = '@wharf/scanner';
