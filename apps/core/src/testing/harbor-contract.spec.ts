import { beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { harborContract, locateHarborSwagger, type HarborContract } from './harbor-contract.js';

// As Harbor 2.x answers GET /api/v2.0/projects/library.
const PROJECT = {
  project_id: 1,
  owner_id: 1,
  name: 'library',
  creation_time: '2024-05-02T09:14:11.271Z',
  update_time: '2024-05-02T09:14:11.271+02:00',
  deleted: false,
  owner_name: 'admin',
  togglable: true,
  current_user_role_id: 1,
  current_user_role_ids: [1],
  repo_count: 3,
  metadata: { public: 'true', auto_scan: 'true', severity: null, retention_id: '7' },
  cve_allowlist: { id: 1, project_id: 1, expires_at: null, items: [{ cve_id: 'CVE-2019-10164' }] },
};

// As Harbor answers GET /api/v2.0/robots/{id}: the secret is never returned after creation.
const ROBOT = {
  id: 7,
  name: 'robot$library+ci',
  description: 'pushes from CI',
  level: 'project',
  duration: 30,
  editable: true,
  disable: false,
  expires_at: 1_717_286_400,
  permissions: [
    {
      kind: 'project',
      namespace: 'library',
      access: [
        { resource: 'repository', action: 'push', effect: 'allow' },
        { resource: 'repository', action: 'pull' },
      ],
    },
  ],
  creator_type: 'local',
  creator_ref: 1,
  creation_time: '2024-05-02T09:14:11Z',
  update_time: '2024-05-02T09:14:11Z',
};

describe('Harbor API contract', () => {
  let contract: HarborContract;

  beforeAll(async () => {
    contract = await harborContract();
  });

  it('reads Harbor swagger definitions once per process', async () => {
    expect(await harborContract()).toBe(contract);
    const names = contract.definitionNames();
    expect(names).toEqual(expect.arrayContaining(['Project', 'ProjectMetadata', 'Robot', 'RobotPermission', 'Access']));
    expect(names).toEqual([...names].sort());
    expect(contract.source).toMatch(/harbor-api-v2\.0-swagger\.yaml$/);
  });

  it('accepts a Project as Harbor returns it', () => {
    expect(contract.validate('Project', PROJECT)).toEqual([]);
    expect(() => contract.assertValid('Project', PROJECT)).not.toThrow();
  });

  it('reports every problem of a malformed Project with its JSON path', () => {
    expect(contract.validate('Project', { project_id: 2 ** 31 })).toEqual([
      '$.project_id: must be int32, got number 2147483648',
    ]);
    const project = {
      ...PROJECT,
      project_id: '1',
      deleted: 'false',
      creation_time: '2024-05-02 09:14:11',
      current_user_role_ids: [1, 'admin'],
      metadata: { public: true },
      cve_allowlist: { items: [{ cve_id: 10164 }] },
    };
    expect(contract.validate('Project', project)).toEqual([
      '$.project_id: must be integer, got "1"',
      '$.creation_time: must be date-time, got "2024-05-02 09:14:11"',
      '$.deleted: must be boolean, got "false"',
      '$.current_user_role_ids[1]: must be integer, got "admin"',
      '$.metadata.public: must be string, got boolean true',
      '$.cve_allowlist.items[0].cve_id: must be string, got number 10164',
    ]);
    expect(() => contract.assertValid('Project', project)).toThrow(
      /^not a valid Harbor Project:\n {2}\$\.project_id: must be integer, got "1"\n/,
    );
  });

  it('accepts a Robot as Harbor returns it', () => {
    expect(contract.validate('Robot', ROBOT)).toEqual([]);
  });

  it('reports a malformed Robot', () => {
    const robot = {
      ...ROBOT,
      id: 7.5,
      disable: null,
      expires_at: '2024-06-02',
      permissions: [{ kind: 'project', namespace: 'library', access: { resource: 'repository' } }],
    };
    expect(contract.validate('Robot', robot)).toEqual([
      '$.id: must be integer, got number 7.5',
      '$.disable: must be boolean, got null',
      '$.expires_at: must be integer, got "2024-06-02"',
      '$.permissions[0].access: must be array, got an object',
    ]);
  });

  it('allows null only where Harbor marks a field x-nullable', () => {
    expect(contract.validate('Robot', { ...ROBOT, duration: null })).toEqual([]);
    expect(contract.validate('Robot', { duration: 'forever' })).toEqual([
      '$.duration: must be integer or null, got "forever"',
    ]);
    expect(contract.validate('Robot', { ...ROBOT, name: null })).toEqual(['$.name: must be string, got null']);
    expect(contract.validate('ProjectMetadata', { prevent_vul: null, public: null })).toEqual([
      '$.public: must be string, got null',
    ]);
  });

  it('allows null for a nullable reference and still checks what it refers to', () => {
    expect(contract.validate('GeneralInfo', { authproxy_settings: null })).toEqual([]);
    expect(contract.validate('GeneralInfo', { authproxy_settings: { skip_search: 'no' } })).toEqual([
      '$.authproxy_settings.skip_search: must be boolean, got "no"',
    ]);
  });

  it('accepts RFC 3339 times in their forms and rejects times without a zone', () => {
    for (const time of ['2024-05-02T09:14:11Z', '2024-05-02T09:14:11.123456789Z', '2024-05-02t09:14:11-05:30']) {
      expect(contract.validate('Robot', { creation_time: time })).toEqual([]);
    }
    expect(contract.validate('Robot', { creation_time: '2024-05-02T09:14:11' })).toEqual([
      '$.creation_time: must be date-time, got "2024-05-02T09:14:11"',
    ]);
  });

  it('leaves objects open to extra properties but enforces required ones', () => {
    expect(contract.validate('Project', { name: 'library', wharf_extension: { any: 1 } })).toEqual([]);
    expect(contract.validate('ProjectScanner', {})).toEqual(['$.uuid: is required but missing']);
    expect(contract.validate('ProjectScanner', [])).toEqual(['$: must be object, got an array']);
  });

  it('refuses a definition Harbor does not have', () => {
    expect(() => contract.validate('Projekt', {})).toThrow(`Harbor's swagger has no definition "Projekt"`);
  });
});

describe('locateHarborSwagger', () => {
  it('uses WHARF_HARBOR_SWAGGER when set, and says so when the file is not there', () => {
    const source = locateHarborSwagger({});
    expect(locateHarborSwagger({ WHARF_HARBOR_SWAGGER: source })).toBe(source);
    const missing = join('/nonexistent', 'harbor.yaml');
    expect(() => locateHarborSwagger({ WHARF_HARBOR_SWAGGER: missing })).toThrow(
      `Harbor's API swagger is not at ${missing}, where WHARF_HARBOR_SWAGGER points`,
    );
  });
});
