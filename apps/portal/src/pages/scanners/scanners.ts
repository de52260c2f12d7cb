import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { type ItemOf, type RequestOf, type ResponseOf } from '../../api/types.js';

export type ScannerRegistration = ItemOf<ResponseOf<'/api/v2.0/scanners'>>;
export type ScannerRequest = RequestOf<'/api/v2.0/scanners', 'post'>;

export const SCANNERS_KEY = ['scanners'] as const;

/** How a registration authenticates to its adapter, as Harbor names the types, with the credential each needs. */
export const AUTH_TYPES = [
  { value: '', label: 'None', credential: null },
  { value: 'Basic', label: 'Basic', credential: 'Username:password' },
  { value: 'Bearer', label: 'Bearer', credential: 'Token' },
  { value: 'X-ScannerAdapter-API-Key', label: 'API key', credential: 'API key' },
] as const;

export interface ScannerFields {
  name: string;
  description: string;
  url: string;
  auth: string;
  credential: string;
  skipCertVerify: boolean;
}

export const EMPTY_SCANNER: ScannerFields = {
  name: '',
  description: '',
  url: '',
  auth: '',
  credential: '',
  skipCertVerify: false,
};

/** What is wrong with the fields, by field, in words; empty when they can be sent. */
export function scannerProblems(fields: ScannerFields): Partial<Record<'name' | 'url' | 'credential', string>> {
  const problems: Partial<Record<'name' | 'url' | 'credential', string>> = {};
  const name = fields.name.trim();
  if (!name) problems.name = 'Enter a name.';
  else if (name.length > 128) problems.name = 'The name is at most 128 characters long.';
  const url = fields.url.trim();
  if (!url) problems.url = 'Enter the address of the scanner adapter.';
  else if (!/^https?:\/\/[^\s/]+/i.test(url)) problems.url = 'The address starts with http:// or https://.';
  if (fields.auth !== '') {
    if (!fields.credential) problems.credential = 'Enter the credential the scanner expects.';
    else if (fields.auth === 'Basic' && !fields.credential.includes(':')) {
      problems.credential = 'Basic authentication takes username:password.';
    }
  }
  return problems;
}

/** The request body of a registration, the credential only with an authentication type that sends it. */
export function scannerRequest(fields: ScannerFields): ScannerRequest {
  return {
    name: fields.name.trim(),
    description: fields.description.trim(),
    url: fields.url.trim(),
    auth: fields.auth,
    ...(fields.auth === '' ? {} : { access_credential: fields.credential }),
    skip_certVerify: fields.skipCertVerify,
  };
}

export function useScanners() {
  const api = useApi();
  return useQuery({
    queryKey: SCANNERS_KEY,
    queryFn: async () => unwrap(await api.GET('/api/v2.0/scanners')) ?? [],
  });
}

/** The adapter's metadata (name, vendor, version), asked once per registration; a failure means it is unhealthy. */
export function useScannerMetadata(uuid: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: [...SCANNERS_KEY, uuid, 'metadata'],
    enabled,
    retry: false,
    staleTime: 60_000,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/scanners/{registration_id}/metadata', {
          params: { path: { registration_id: uuid } },
        }),
      ),
  });
}
