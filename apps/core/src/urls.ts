import { readFileSync } from 'node:fs';
import { type WharfConfig } from '@wharf/config';

/** The URL clients reach Wharf by: external_url, else derived from hostname and the listener's port. */
export function externalUrl(config: WharfConfig): string {
  if (config.externalUrl) return config.externalUrl;
  const host =
    config.hostname.includes(':') && !config.hostname.startsWith('[') ? `[${config.hostname}]` : config.hostname;
  if (config.https) return config.https.port === 443 ? `https://${host}` : `https://${host}:${config.https.port}`;
  return config.http.port === 80 ? `http://${host}` : `http://${host}:${config.http.port}`;
}

/**
 * Where the plain HTTP listener sends clients when https is configured: external_url when it is an https URL, else
 * https://hostname[:https.port]. Never the request's Host header, which anyone can set.
 */
export function httpsRedirectBase(config: WharfConfig): string {
  if (config.externalUrl?.startsWith('https://')) return config.externalUrl;
  return externalUrl({ ...config, externalUrl: undefined });
}

/** The host name or IP address clients reach the HTTPS listener by (an IPv6 address without brackets). */
export function httpsHost(config: WharfConfig): string {
  return new URL(httpsRedirectBase(config)).hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The registry's address for `docker login`, push and pull commands (Harbor's `registry_url`): the host of the
 * external URL, with its port only when it is not the scheme's default, since clients keep credentials per address
 * and `reg.example.com:443` is another registry to them than `reg.example.com`.
 */
export function registryHost(config: WharfConfig): string {
  return new URL(externalUrl(config)).host;
}

/** The version of this build, from the core package's manifest (dist and src both sit one level below it). */
export const WHARF_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
