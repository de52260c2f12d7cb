import { RegistryRepository } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { type DataSource } from 'typeorm';
import { type ImmutabilityRules } from '../policy/immutability.js';
import { ImmutabilityPolicy } from '../policy/immutability.policy.js';
import { type VulnerabilityPolicies } from '../policy/vulnerability-policy.js';
import { VulnerabilityPolicy } from '../policy/vulnerability.policy.js';
import { type ContentTrust } from '../policy/content-trust.js';
import { ContentTrustPolicy } from '../policy/content-trust.policy.js';
import { ProjectQuotaPolicy } from './project-quota.policy.js';
import { RegistryProjectRepository } from './registry-project.repository.js';

/**
 * The one writer of core's process, shared by the /v2 engine and the API, with core's policy chain in order:
 * a push must fit its project's storage limit, a tag its project's rules make immutable is never moved nor
 * deleted, and where the process serves pulls (given the gates) an unsigned artifact of a project that demands
 * signatures is not served, nor a vulnerable one from a project that prevents vulnerable images.
 */
export function registryWriter(
  dataSource: DataSource,
  immutability: ImmutabilityRules,
  gates: { vulnerabilities?: VulnerabilityPolicies; contentTrust?: ContentTrust } = {},
): RegistryWriter {
  return new RegistryWriter(new RegistryRepository(dataSource), [
    new ProjectQuotaPolicy(new RegistryProjectRepository(dataSource)),
    new ImmutabilityPolicy(immutability),
    ...(gates.contentTrust ? [new ContentTrustPolicy(gates.contentTrust)] : []),
    ...(gates.vulnerabilities ? [new VulnerabilityPolicy(gates.vulnerabilities)] : []),
  ]);
}
