import { expectStatus, send } from './http.js';

export interface Credentials {
  username: string;
  password: string;
}

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export const BENCH_PROJECT = 'bench';

/**
 * Sets core up as a CI pipeline would use it: a private project, a project robot that may push, pull and read artifacts there,
 * and a registry token issued to that robot for the given repositories. Returns the robot's credentials and the
 * headers every /v2 request then carries.
 */
export async function robotAccess(
  url: string,
  admin: Credentials,
  repositories: string[],
): Promise<{ robot: Credentials; headers: Record<string, string> }> {
  const json = { authorization: basic(admin), 'content-type': 'application/json' };
  const project = await send(
    'POST',
    `${url}/api/v2.0/projects`,
    json,
    JSON.stringify({ project_name: BENCH_PROJECT, metadata: { public: 'false' }, storage_limit: -1 }),
  );
  if (project.status !== 201 && project.status !== 409) {
    throw new Error(`creating project ${BENCH_PROJECT} answered ${project.status}: ${project.body.toString('utf8')}`);
  }
  const created = await expectStatus(
    201,
    'POST',
    `${url}/api/v2.0/robots`,
    json,
    JSON.stringify({
      name: `bench${Date.now().toString(36)}`,
      level: 'project',
      duration: -1,
      disable: false,
      permissions: [
        {
          kind: 'project',
          namespace: BENCH_PROJECT,
          access: [
            { resource: 'repository', action: 'push' },
            { resource: 'repository', action: 'pull' },
            { resource: 'artifact', action: 'list' },
            { resource: 'artifact', action: 'read' },
            { resource: 'tag', action: 'list' },
          ],
        },
      ],
    }),
  );
  const { name, secret } = JSON.parse(created.body.toString('utf8')) as { name: string; secret: string };
  const robot = { username: name, password: secret };
  const token = await issueToken(url, robot, repositories);
  return { robot, headers: { authorization: `Bearer ${token}` } };
}

/** A registry token for pull and push on every given repository, as `docker login` + push would get it. */
export async function issueToken(url: string, robot: Credentials, repositories: string[]): Promise<string> {
  const query = new URLSearchParams({ service: 'harbor-registry' });
  for (const repository of repositories) query.append('scope', `repository:${repository}:pull,push`);
  const response = await expectStatus(200, 'GET', `${url}/service/token?${query.toString()}`, {
    authorization: basic(robot),
  });
  const body = JSON.parse(response.body.toString('utf8')) as { token?: string };
  if (!body.token) throw new Error(`the token service answered without a token: ${response.body.toString('utf8')}`);
  return body.token;
}
