/*
 * The scanner identity's tokens (issued by TokenService.issueForScanner) are recognised by a signed claim and their
 * binding together; the check lives with the token format in @wharf/auth.
 */
export { SCANNER_TOKEN_CLAIM, isScannerToken } from '@wharf/auth';
