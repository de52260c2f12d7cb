import { RegistryRepository } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { type DataSource } from 'typeorm';
import { type ImmutabilityRules } from '../policy/immutability.js';
import { ImmutabilityPolicy } from '../policy/immutability.policy.js';
import { type VulnerabilityPolicies } from '../policy/vulnerability-policy.js';
import { VulnerabilityPolicy } from '../policy/vulnerability.policy.js';
import { ProjectQuotaPolicy } from './project-quota.policy.js';
import { RegistryProjectRepository } from './registry-project.repository.js';

/**
 * The one writer of core's process, shared by the /v2 engine and the API, with core's policy chain in order:
 * a push must fit its project's storage limit, and a tag its project's rules make immutable is never moved nor
 * deleted. With `vulnerabilities` (the server's, which serves pulls), a pull from a project that prevents vulnerable
 * images passes the vulnerability gate.
 */
export function registryWriter(
  dataSource: DataSource,
  immutability: ImmutabilityRules,
  vulnerabilities?: VulnerabilityPolicies,
): RegistryWriter {
  return new RegistryWriter(new RegistryRepository(dataSource), [
    new ProjectQuotaPolicy(new RegistryProjectRepository(dataSource)),
    new ImmutabilityPolicy(immutability),
    ...(vulnerabilities ? [new VulnerabilityPolicy(vulnerabilities)] : []),
  ]);
}
