import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { ExecutionRepository } from '@wharf/db';
import { type ScannerAdapterDouble, startScannerAdapterDouble } from '@wharf/testkit';
import { CONTROLLERS } from './controllers/index.js';
import { type EndpointAccess } from './openapi/endpoint.decorator.js';
import { GARBAGE_COLLECTION, PURGE_AUDIT } from './services/system-job.service.js';
import { documentOperations, generateOpenApiDocument } from './openapi/openapi.generator.js';
import {
  AuthzMatrix,
  MEMBER_ROLES,
  type MatrixContext,
  type MatrixProject,
  type PrincipalModel,
  type PrincipalName,
  type RouteRow,
  passesDeclaredAccess,
  principalModel,
  routeKey,
  tableProblems,
} from './testing/authz-matrix.js';
import { cosignKeys } from './testing/signature-fixtures.js';
import { type TestCore, startTestCore } from './testing/test-core.js';

/**
 * One row per route of the API: how to make a valid request, and, where the route leaves the decision to its
 * service, how the service decides. Who is allowed is computed from the route's declared access and the RBAC matrix.
 * A new route fails this test until it has a row here.
 */
const ROWS: Record<string, RouteRow> = {
  // System
  'GET /api/v2.0/ping': {},
  'GET /api/v2.0/health': {},
  'GET /api/v2.0/systeminfo': {},
  // Public, as in Harbor. The matrix's core serves no HTTPS, so every caller alike hears that there is no
  // certificate; system.int-spec and https.int-spec read the served one.
  'GET /api/v2.0/systeminfo/getcert': { decide: () => ({ status: 404 }) },
  'GET /api/v2.0/statistics': {},
  'GET /api/v2.0/search': { request: () => ({ query: { q: 'authz' } }) },
  'GET /api/v2.0/openapi.json': {},
  'GET /api/v2.0/swagger.json': {},
  'GET /api/v2.0/configurations': {},
  'PUT /api/v2.0/configurations': { request: () => ({ body: { project_creation_restriction: 'everyone' } }) },
  'GET /api/v2.0/audit-logs': {},
  'GET /api/v2.0/permissions': {
    // Robot permission catalog: for those who may create robots, in the system or in some project.
    decide: (who, project) =>
      who.canInSystem('robot', 'create') || who.canInProject(project, 'robot', 'create') ? 'allow' : 'deny',
  },

  // Sessions and tokens
  'POST /c/login': {
    request: (ctx) => ({ body: { principal: ctx.loginUser.username, password: ctx.loginUser.password } }),
  },
  'GET /c/logout': {},
  'GET /service/token': {
    request: (ctx) => ({
      query: {
        service: 'harbor-registry',
        scope: `repository:${ctx.project.name}/${ctx.project.image.repository}:pull`,
      },
    }),
  },

  // Users
  'GET /api/v2.0/users': {},
  'POST /api/v2.0/users': {
    request: (ctx) => {
      const username = ctx.unique('created');
      return {
        body: { username, email: `${username}@example.com`, realname: username, password: 'Created-Pass1' },
      };
    },
  },
  'GET /api/v2.0/users/current': {
    decide: (who) => (who.kind === 'robot' ? { status: 412 } : 'allow'),
  },
  'GET /api/v2.0/users/current/permissions': { request: () => ({ query: { scope: '/system' } }) },
  'GET /api/v2.0/users/search': { request: () => ({ query: { username: 'authz' } }) },
  'GET /api/v2.0/users/{user_id}': {
    request: (ctx) => ({ params: { user_id: ctx.victim.userId } }),
    decide: (who) => (who.canInSystem('user', 'read') ? 'allow' : 'deny'),
  },
  'PUT /api/v2.0/users/{user_id}': {
    request: (ctx) => ({
      params: { user_id: ctx.victim.userId },
      body: { email: ctx.victim.email, realname: 'Victim', comment: 'unchanged' },
    }),
    decide: (who) => (who.canInSystem('user', 'update') ? 'allow' : 'deny'),
  },
  'DELETE /api/v2.0/users/{user_id}': {
    request: async (ctx) => ({ params: { user_id: (await ctx.newUser()).userId } }),
  },
  'PUT /api/v2.0/users/{user_id}/password': {
    request: (ctx) => ({
      params: { user_id: ctx.victim.userId },
      body: { new_password: `New-${ctx.unique('pw')}A1` },
    }),
    decide: (who) => (who.canInSystem('user', 'update') ? 'allow' : 'deny'),
  },
  'PUT /api/v2.0/users/{user_id}/sysadmin': {
    request: (ctx) => ({ params: { user_id: ctx.victim.userId }, body: { sysadmin_flag: false } }),
  },

  // Projects
  'HEAD /api/v2.0/projects': {
    request: (ctx) => ({ query: { project_name: ctx.project.name } }),
    decide: (who, project) => (who.canInProject(project, 'project', 'read') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/projects': {},
  'POST /api/v2.0/projects': {
    request: (ctx) => ({ body: { project_name: ctx.unique('created'), metadata: { public: 'false' } } }),
    // Any user may create projects (the default restriction); robots only with the system permission.
    decide: (who) => (who.kind !== 'robot' || who.canInSystem('project', 'create') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/projects/{project_name_or_id}': {},
  'PUT /api/v2.0/projects/{project_name_or_id}': {
    request: (ctx) => ({ body: { metadata: { public: String(ctx.project.public), auto_scan: 'false' } } }),
  },
  'DELETE /api/v2.0/projects/{project_name_or_id}': {
    request: async (ctx) => ({ project: await ctx.newProject() }),
  },
  'GET /api/v2.0/projects/{project_name_or_id}/_deletable': {},
  'GET /api/v2.0/projects/{project_name_or_id}/summary': {},
  'GET /api/v2.0/projects/{project_name}/logs': {},

  // Members
  'GET /api/v2.0/projects/{project_name_or_id}/members': {},
  'POST /api/v2.0/projects/{project_name_or_id}/members': {
    request: async (ctx) => ({
      body: { role_id: ProjectRole.Guest, member_user: { username: (await ctx.newUser()).username } },
    }),
  },
  'GET /api/v2.0/projects/{project_name_or_id}/members/{mid}': {
    request: (ctx) => ({ params: { mid: ctx.project.extraMember.mid } }),
  },
  'PUT /api/v2.0/projects/{project_name_or_id}/members/{mid}': {
    request: (ctx) => ({ params: { mid: ctx.project.extraMember.mid }, body: { role_id: ProjectRole.Guest } }),
  },
  'DELETE /api/v2.0/projects/{project_name_or_id}/members/{mid}': {
    request: async (ctx) => {
      const user = await ctx.newUser();
      return { params: { mid: await ctx.addMember(ctx.project, user.username, ProjectRole.Guest) } };
    },
  },

  // Tag immutability rules; a change or delete gets a rule of its own.
  'GET /api/v2.0/projects/{project_name_or_id}/immutabletagrules': {},
  'POST /api/v2.0/projects/{project_name_or_id}/immutabletagrules': {
    request: async (ctx) => {
      await clearImmutableRules(ctx);
      return { body: immutableRule(ctx.unique('tag')) };
    },
  },
  'PUT /api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}': {
    request: async (ctx) => {
      const id = await newImmutableRule(ctx);
      return { params: { immutable_rule_id: id }, body: { id, ...immutableRule(ctx.unique('moved')) } };
    },
  },
  'DELETE /api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}': {
    request: async (ctx) => ({ params: { immutable_rule_id: await newImmutableRule(ctx) } }),
  },

  // Scanner registrations; each change or delete gets a registration of its own. Ping and metadata ask the
  // Scanner Adapter API test double.
  'GET /api/v2.0/scanners': {},
  'POST /api/v2.0/scanners': {
    request: (ctx) => {
      const name = scannerName(ctx);
      return { body: { name, url: `http://${name.toLowerCase()}.invalid:8080` } };
    },
  },
  'POST /api/v2.0/scanners/ping': {
    request: async () => ({ body: { name: 'ping', url: (await adapterDouble()).url } }),
  },
  'GET /api/v2.0/scanners/{registration_id}': {
    request: async (ctx) => ({ params: { registration_id: await newScanner(ctx) } }),
  },
  'PUT /api/v2.0/scanners/{registration_id}': {
    request: async (ctx) => {
      const name = scannerName(ctx);
      return {
        params: { registration_id: await newScanner(ctx) },
        body: { name, url: `http://${name.toLowerCase()}.invalid:8080` },
      };
    },
  },
  'DELETE /api/v2.0/scanners/{registration_id}': {
    request: async (ctx) => ({ params: { registration_id: await newScanner(ctx) } }),
  },
  'PATCH /api/v2.0/scanners/{registration_id}': {
    request: async (ctx) => ({ params: { registration_id: await newScanner(ctx) }, body: { is_default: false } }),
  },
  'GET /api/v2.0/scanners/{registration_id}/metadata': {
    request: async (ctx) => ({
      params: { registration_id: await newScanner(ctx, `${(await adapterDouble()).url}/${scannerName(ctx)}`) },
    }),
  },
  'GET /api/v2.0/projects/{project_name_or_id}/scanner': {},
  'PUT /api/v2.0/projects/{project_name_or_id}/scanner': {
    request: async (ctx) => ({ body: { uuid: await newScanner(ctx) } }),
  },
  'GET /api/v2.0/projects/{project_name_or_id}/scanner/candidates': {},
  // Trusted keys of content trust; each request that adds one brings a new key, a read or delete gets a key of its own.
  'GET /api/v2.0/projects/{project_name_or_id}/trusted-keys': {},
  'POST /api/v2.0/projects/{project_name_or_id}/trusted-keys': {
    request: () => ({ body: { type: 'cosign', name: 'release', pem: cosignKeys().publicPem } }),
  },
  'GET /api/v2.0/projects/{project_name_or_id}/trusted-keys/{key_id}': {
    request: async (ctx) => ({ params: { key_id: await newTrustedKey(ctx) } }),
  },
  'DELETE /api/v2.0/projects/{project_name_or_id}/trusted-keys/{key_id}': {
    request: async (ctx) => ({ params: { key_id: await newTrustedKey(ctx) } }),
  },

  // The audit log purge: no worker runs here, so each request gets a run of its own and a start finds none unfinished.
  'GET /api/v2.0/system/purgeaudit': {},
  'POST /api/v2.0/system/purgeaudit/schedule': {
    request: async (ctx) => {
      await stopRuns(ctx, PURGE_AUDIT.vendorType);
      return {
        body: { schedule: { type: 'Manual' }, parameters: { audit_retention_hour: 24, include_event_types: 'pull' } },
      };
    },
  },
  'GET /api/v2.0/system/purgeaudit/schedule': {},
  'PUT /api/v2.0/system/purgeaudit/schedule': { request: () => ({ body: { schedule: { type: 'None' } } }) },
  'GET /api/v2.0/system/purgeaudit/{purge_id}': {
    request: async (ctx) => ({ params: { purge_id: await newRun(ctx, PURGE_AUDIT.vendorType) } }),
  },
  'PUT /api/v2.0/system/purgeaudit/{purge_id}': {
    request: async (ctx) => ({ params: { purge_id: await newRun(ctx, PURGE_AUDIT.vendorType) } }),
  },
  'GET /api/v2.0/system/purgeaudit/{purge_id}/log': {
    request: async (ctx) => ({ params: { purge_id: await newRun(ctx, PURGE_AUDIT.vendorType) } }),
  },

  // Garbage collection, as the purge: each request gets a run of its own, and a start finds none unfinished.
  'GET /api/v2.0/system/gc': {},
  'GET /api/v2.0/system/gc/schedule': {},
  'POST /api/v2.0/system/gc/schedule': {
    request: async (ctx) => {
      await stopRuns(ctx, GARBAGE_COLLECTION.vendorType);
      return { body: { schedule: { type: 'Manual' }, parameters: { dry_run: true } } };
    },
  },
  'PUT /api/v2.0/system/gc/schedule': { request: () => ({ body: { schedule: { type: 'None' } } }) },
  'GET /api/v2.0/system/gc/{gc_id}': {
    request: async (ctx) => ({ params: { gc_id: await newRun(ctx, GARBAGE_COLLECTION.vendorType) } }),
  },
  'PUT /api/v2.0/system/gc/{gc_id}': {
    request: async (ctx) => ({ params: { gc_id: await newRun(ctx, GARBAGE_COLLECTION.vendorType) } }),
  },
  'GET /api/v2.0/system/gc/{gc_id}/log': {
    request: async (ctx) => ({ params: { gc_id: await newRun(ctx, GARBAGE_COLLECTION.vendorType) } }),
  },

  // The job service dashboard: a job of a task of its own, with a log.
  'GET /api/v2.0/jobservice/jobs/{job_id}/log': {
    request: async (ctx) => {
      const executions = ctx.core.server.app.get(ExecutionRepository);
      const execution = await executions.createExecution({
        vendorType: GARBAGE_COLLECTION.vendorType,
        trigger: 'MANUAL',
      });
      const jobId = ctx.unique('job');
      const task = await executions.createTask(execution.id, { jobId });
      await executions.appendTaskLog(task!.id, 'collected\n');
      return { params: { job_id: jobId } };
    },
  },
  'GET /api/v2.0/jobservice/pools': {},
  // 'all' answers whatever pools are alive (none needed).
  'GET /api/v2.0/jobservice/pools/{pool_id}/workers': { request: () => ({ params: { pool_id: 'all' } }) },
  'GET /api/v2.0/jobservice/queues': {},
  // Resuming a type that is not paused changes nothing, whoever is let through.
  'PUT /api/v2.0/jobservice/queues/{job_type}': {
    request: () => ({ params: { job_type: 'UPLOAD_PURGE' }, body: { action: 'resume' } }),
  },
  'GET /api/v2.0/schedules': {},
  'GET /api/v2.0/schedules/{job_type}/paused': { request: () => ({ params: { job_type: 'all' } }) },

  // Repositories, artifacts and tags, on the image <project>/app:v1; deletes get an image or tag of their own.
  'GET /api/v2.0/repositories': {},
  'GET /api/v2.0/projects/{project_name}/repositories': {},
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}': {
    request: (ctx) => ({ params: { repository_name: ctx.project.image.repository } }),
  },
  'PUT /api/v2.0/projects/{project_name}/repositories/{repository_name}': {
    request: (ctx) => ({ params: { repository_name: ctx.project.image.repository }, body: { description: 'app' } }),
  },
  'DELETE /api/v2.0/projects/{project_name}/repositories/{repository_name}': {
    request: async (ctx) => {
      const repository = ctx.unique('gone');
      await ctx.pushImage(ctx.project, repository, 'v1');
      return { params: { repository_name: repository } };
    },
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts': {
    request: (ctx) => ({ params: { repository_name: ctx.project.image.repository } }),
  },
  'POST /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts': {
    // A copy of the fixture image into a repository of its own: the route checks creating artifacts in the target,
    // the service reading them in the source (here the same project).
    request: (ctx) => ({
      params: { repository_name: ctx.unique('copy') },
      query: { from: `${ctx.project.name}/${ctx.project.image.repository}:${ctx.project.image.tag}` },
    }),
    decide: (who, project) => (who.canInProject(project, 'artifact', 'read') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}': {
    request: (ctx) => ({ params: imageParams(ctx) }),
  },
  'DELETE /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}': {
    request: async (ctx) => {
      const repository = ctx.project.image.repository;
      const digest = await ctx.pushImage(ctx.project, repository, ctx.unique('gone'));
      return { params: { repository_name: repository, reference: digest } };
    },
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/accessories': {
    request: (ctx) => ({ params: imageParams(ctx) }),
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/vulnerabilities':
    {
      request: (ctx) => ({ params: imageParams(ctx) }),
    },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/{addition}': {
    request: (ctx) => ({ params: { ...imageParams(ctx), addition: 'build_history' } }),
  },
  // Scans: no worker runs here, so a scan stays unfinished; each request gets an image of its own (a second scan of one
  // still unfinished is a 409), and a stop or a log read one scanned by the administrator first.
  'POST /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan': {
    request: async (ctx) => ({ params: await scannableImage(ctx) }),
  },
  'POST /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan/stop': {
    request: async (ctx) => ({ params: (await scannedImage(ctx)).params, body: { scan_type: 'vulnerability' } }),
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan/{report_id}/log': {
    request: async (ctx) => {
      const { params, reportId } = await scannedImage(ctx);
      return { params: { ...params, report_id: reportId } };
    },
  },
  'GET /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags': {
    request: (ctx) => ({ params: imageParams(ctx) }),
  },
  'POST /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags': {
    request: (ctx) => ({ params: imageParams(ctx), body: { name: ctx.unique('tag') } }),
  },
  'DELETE /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}': {
    request: async (ctx) => {
      const params = imageParams(ctx);
      const tag = ctx.unique('gone');
      await ctx.admin(
        'POST',
        `/api/v2.0/projects/${ctx.project.name}/repositories/${params.repository_name}/artifacts/${params.reference}/tags`,
        { name: tag },
      );
      return { params: { ...params, tag_name: tag } };
    },
  },

  // Quotas
  'GET /api/v2.0/quotas': {},
  'GET /api/v2.0/quotas/{id}': { request: async (ctx) => ({ params: { id: await quotaIdOf(ctx.project, ctx) } }) },
  'PUT /api/v2.0/quotas/{id}': {
    request: async (ctx) => ({ params: { id: await quotaIdOf(ctx.project, ctx) }, body: { hard: { storage: -1 } } }),
  },

  // Robots, on the robots of the private project; the service checks the robot permission of that project and
  // that no one hands out more than they hold (the target robots hold repository:pull).
  'GET /api/v2.0/robots': {
    request: (ctx) => ({ query: { q: `Level=project,ProjectID=${ctx.project.id}` } }),
    decide: (who, project) => (who.canInProject(project, 'robot', 'list') ? 'allow' : 'deny'),
  },
  'POST /api/v2.0/robots': {
    request: (ctx) => ({
      body: {
        name: ctx.unique('created'),
        level: 'project',
        duration: -1,
        permissions: [
          { kind: 'project', namespace: ctx.project.name, access: [{ resource: 'repository', action: 'pull' }] },
        ],
      },
    }),
    decide: (who, project) =>
      who.canInProject(project, 'robot', 'create') && who.canInProject(project, 'repository', 'pull')
        ? 'allow'
        : 'deny',
  },
  'GET /api/v2.0/robots/{robot_id}': {
    request: (ctx) => ({ params: { robot_id: ctx.project.robot.id } }),
    decide: (who, project) => (who.canInProject(project, 'robot', 'read') ? 'allow' : 'deny'),
  },
  'PUT /api/v2.0/robots/{robot_id}': {
    request: (ctx) => ({
      params: { robot_id: ctx.project.robot.id },
      body: {
        description: 'updated',
        disable: false,
        permissions: [
          { kind: 'project', namespace: ctx.project.name, access: [{ resource: 'repository', action: 'pull' }] },
        ],
      },
    }),
    decide: (who, project) =>
      who.canInProject(project, 'robot', 'update') && who.canInProject(project, 'repository', 'pull')
        ? 'allow'
        : 'deny',
  },
  'PATCH /api/v2.0/robots/{robot_id}': {
    request: (ctx) => ({ params: { robot_id: ctx.project.robot.id }, body: {} }),
    decide: (who, project) =>
      who.canInProject(project, 'robot', 'update') && who.canInProject(project, 'repository', 'pull')
        ? 'allow'
        : 'deny',
  },
  'DELETE /api/v2.0/robots/{robot_id}': {
    request: async (ctx) => ({ params: { robot_id: (await ctx.newRobot(ctx.project)).id } }),
    decide: (who, project) => (who.canInProject(project, 'robot', 'delete') ? 'allow' : 'deny'),
  },

  // Tag retention: the routes name a policy; the service checks the tag-retention permission of its project.
  'GET /api/v2.0/retentions/metadatas': {},
  // Security hub and CVE allowlists
  'GET /api/v2.0/security/summary': { request: () => ({ query: { with_dangerous_cve: 'true' } }) },
  'GET /api/v2.0/security/vul': { request: () => ({ query: { q: 'severity=High' } }) },
  'GET /api/v2.0/system/CVEAllowlist': {},
  'PUT /api/v2.0/system/CVEAllowlist': { request: () => ({ body: { items: [{ cve_id: 'CVE-2024-0001' }] } }) },
  'POST /api/v2.0/retentions': {
    request: async (ctx) => {
      const project = await ctx.newProject();
      return { project, body: retentionPolicy(project.id) };
    },
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'create') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/retentions/{id}': {
    request: async (ctx) => ({ params: { id: await retentionIdOf(ctx.project, ctx) } }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'read') ? 'allow' : 'deny'),
  },
  'PUT /api/v2.0/retentions/{id}': {
    request: async (ctx) => ({
      params: { id: await retentionIdOf(ctx.project, ctx) },
      body: retentionPolicy(ctx.project.id),
    }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'update') ? 'allow' : 'deny'),
  },
  'DELETE /api/v2.0/retentions/{id}': {
    request: async (ctx) => {
      const project = await ctx.newProject();
      return { project, params: { id: await retentionIdOf(project, ctx) } };
    },
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'delete') ? 'allow' : 'deny'),
  },
  'POST /api/v2.0/retentions/{id}/executions': {
    request: async (ctx) => ({ params: { id: await retentionIdOf(ctx.project, ctx) }, body: { dry_run: true } }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'update') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/retentions/{id}/executions': {
    request: async (ctx) => ({ params: { id: await retentionIdOf(ctx.project, ctx) } }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'list') ? 'allow' : 'deny'),
  },
  'PATCH /api/v2.0/retentions/{id}/executions/{eid}': {
    request: async (ctx) => ({ params: await retentionRunOf(ctx.project, ctx), body: { action: 'stop' } }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'update') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/retentions/{id}/executions/{eid}/tasks': {
    request: async (ctx) => ({ params: await retentionRunOf(ctx.project, ctx) }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'list') ? 'allow' : 'deny'),
  },
  'GET /api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}': {
    request: async (ctx) => ({ params: await retentionRunOf(ctx.project, ctx) }),
    decide: (who, project) => (who.canInProject(project, 'tag-retention', 'read') ? 'allow' : 'deny'),
  },
};

async function newRun(ctx: MatrixContext, vendorType: string): Promise<number> {
  const executions = ctx.core.server.app.get(ExecutionRepository);
  return (await executions.createExecution({ vendorType, trigger: 'MANUAL' })).id;
}

async function stopRuns(ctx: MatrixContext, vendorType: string): Promise<void> {
  const executions = ctx.core.server.app.get(ExecutionRepository);
  const unfinished = await executions.listExecutions(vendorType, undefined, {
    q: 'status={Pending Running}',
    pageSize: '100',
  });
  for (const run of unfinished.items) await executions.stopExecution(run.id);
}

async function newTrustedKey(ctx: MatrixContext): Promise<number> {
  const response = await ctx.admin('POST', `/api/v2.0/projects/${ctx.project.id}/trusted-keys`, {
    type: 'cosign',
    name: 'matrix',
    pem: cosignKeys().publicPem,
  });
  return Number(response.headers.get('location')?.split('/').pop());
}

function immutableRule(tagPattern: string) {
  return {
    tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: tagPattern }],
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'nothing-here' }] },
  };
}

/** A project holds 15 rules at most: each request of the rows starts from none. */
async function clearImmutableRules(ctx: MatrixContext): Promise<void> {
  const rules = `/api/v2.0/projects/${ctx.project.id}/immutabletagrules`;
  const listed = await ctx.admin<{ id: number }[]>('GET', `${rules}?page_size=100`);
  for (const { id } of listed.body) await ctx.admin('DELETE', `${rules}/${id}`);
}

async function newImmutableRule(ctx: MatrixContext): Promise<number> {
  await clearImmutableRules(ctx);
  const response = await ctx.admin(
    'POST',
    `/api/v2.0/projects/${ctx.project.id}/immutabletagrules`,
    immutableRule(ctx.unique('rule')),
  );
  return Number(response.headers.get('location')?.split('/').pop());
}

/** A registration name of the matrix: letters and digits with hyphens, as registration names allow. */
function scannerName(ctx: MatrixContext): string {
  return ctx
    .unique('scanner')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** A new registration; URLs, like names, are used once. */
async function newScanner(ctx: MatrixContext, url?: string): Promise<string> {
  const name = scannerName(ctx);
  const response = await ctx.admin('POST', '/api/v2.0/scanners', {
    name,
    url: url ?? `http://${name.toLowerCase()}.invalid:8080`,
  });
  return response.headers.get('location')!.split('/').pop()!;
}

let adapter: Promise<ScannerAdapterDouble> | undefined;
/** The Scanner Adapter API test double the ping and metadata rows ask, started once. */
function adapterDouble(): Promise<ScannerAdapterDouble> {
  adapter ??= startScannerAdapterDouble({ produce: () => Promise.resolve({}) });
  return adapter;
}

function retentionPolicy(projectId: number): Record<string, unknown> {
  return {
    algorithm: 'or',
    rules: [
      {
        action: 'retain',
        template: 'latestPushedK',
        params: { latestPushedK: 5 },
        tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }],
        scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
      },
    ],
    trigger: { kind: 'Schedule', settings: { cron: '' } },
    scope: { level: 'project', ref: projectId },
  };
}

const retentionIds = new Map<number, number>();

/** The retention policy of a project, created by the administrator the first time it is asked for. */
async function retentionIdOf(project: MatrixProject, ctx: MatrixContext): Promise<number> {
  const known = retentionIds.get(project.id);
  if (known !== undefined) return known;
  const response = await ctx.admin('POST', '/api/v2.0/retentions', retentionPolicy(project.id));
  const id = Number(response.headers.get('location')?.split('/').pop());
  retentionIds.set(project.id, id);
  return id;
}

const retentionRuns = new Map<number, { id: number; eid: number; tid: number }>();

/** A dry run of the project's retention policy, started by the administrator, with its one task (the image's). */
async function retentionRunOf(
  project: MatrixProject,
  ctx: MatrixContext,
): Promise<{ id: number; eid: number; tid: number }> {
  const known = retentionRuns.get(project.id);
  if (known !== undefined) return known;
  const id = await retentionIdOf(project, ctx);
  const response = await ctx.admin('POST', `/api/v2.0/retentions/${id}/executions`, { dry_run: true });
  const eid = Number(response.headers.get('location')?.split('/').pop());
  const tasks = await ctx.admin<{ id: number }[]>('GET', `/api/v2.0/retentions/${id}/executions/${eid}/tasks`);
  const tid = tasks.body[0]?.id;
  if (tid === undefined) throw new Error(`the retention run of ${project.name} has no task`);
  const run = { id, eid, tid };
  retentionRuns.set(project.id, run);
  return run;
}

function imageParams(ctx: MatrixContext): { repository_name: string; reference: string } {
  return { repository_name: ctx.project.image.repository, reference: ctx.project.image.digest };
}

/** An image of its own in the context's project, never scanned. */
async function scannableImage(ctx: MatrixContext): Promise<{ repository_name: string; reference: string }> {
  const repository = ctx.project.image.repository;
  return { repository_name: repository, reference: await ctx.pushImage(ctx.project, repository, ctx.unique('scan')) };
}

/** An image of its own whose scan the administrator started; with the id of its report. */
async function scannedImage(
  ctx: MatrixContext,
): Promise<{ params: { repository_name: string; reference: string }; reportId: string }> {
  const params = await scannableImage(ctx);
  const path = `/api/v2.0/projects/${ctx.project.name}/repositories/${params.repository_name}/artifacts/${params.reference}`;
  await ctx.admin('POST', `${path}/scan`);
  const artifact = await ctx.admin<{ scan_overview: Record<string, { report_id: string }> }>(
    'GET',
    `${path}?with_scan_overview=true`,
  );
  return { params, reportId: Object.values(artifact.body.scan_overview)[0].report_id };
}

const quotaIds = new Map<number, number>();

async function quotaIdOf(project: MatrixProject, ctx: MatrixContext): Promise<number> {
  const known = quotaIds.get(project.id);
  if (known !== undefined) return known;
  const response = await ctx.admin<{ id: number }[]>(
    'GET',
    `/api/v2.0/quotas?reference=project&reference_id=${project.id}`,
  );
  const id = response.body[0]?.id;
  if (id === undefined) throw new Error(`project ${project.name} has no quota`);
  quotaIds.set(project.id, id);
  return id;
}

const routes = documentOperations(generateOpenApiDocument(CONTROLLERS));

describe('authorization of every route', () => {
  let core: TestCore | undefined;
  let matrix: AuthzMatrix;

  beforeAll(async () => {
    core = await startTestCore();
    matrix = await AuthzMatrix.create(core);
  }, 180_000);

  afterAll(async () => {
    await core?.close();
    await (await adapter)?.close();
  });

  it('has a row for every route of the API, and none for a route it lacks', () => {
    expect(tableProblems(routes, ROWS)).toEqual([]);
  });

  it.each(routes.map((route) => [routeKey(route.method, route.path), route] as const))(
    '%s answers each caller as the permission model says',
    async (key, route) => {
      const row = ROWS[key];
      if (!row) throw new Error(`route ${key} has no expectation: add its row to the table in authz.int-spec.ts`);
      expect(await matrix.check(route, row)).toEqual([]);
    },
    180_000,
  );
});

/**
 * A guard on the computation: cells of Harbor's published "user permissions by role" table, typed by hand. If the
 * RBAC matrix or the evaluation drifted from Harbor, these fail even though the matrix agrees with itself.
 */
describe("the computed expectations agree with Harbor's permission table", () => {
  const privateProject: MatrixProject = { id: 1, name: 'team', public: false, roles: { ...MEMBER_ROLES } };
  const publicProject: MatrixProject = { ...privateProject, public: true };
  const access = (resource: string, action: string): EndpointAccess =>
    ({ kind: 'project', resource, action, param: 'project_name_or_id' }) as EndpointAccess;
  const allowed = (who: PrincipalName, resource: string, action: string, project = privateProject): boolean =>
    passesDeclaredAccess(access(resource, action), principalModel(who), project);
  const roles: PrincipalName[] = ['limitedGuest', 'guest', 'developer', 'maintainer', 'projectAdmin'];
  const column = (resource: string, action: string): boolean[] => roles.map((who) => allowed(who, resource, action));

  it.each([
    // Harbor's table, columns Limited Guest, Guest, Developer, Maintainer, Project Admin.
    ['see the project', 'project', 'read', [true, true, true, true, true]],
    ['see the members', 'member', 'list', [false, true, true, true, true]],
    ['add, change or remove members', 'member', 'create', [false, false, false, false, true]],
    ['pull', 'repository', 'pull', [true, true, true, true, true]],
    ['push', 'repository', 'push', [false, false, true, true, true]],
    ['delete repositories', 'repository', 'delete', [false, false, false, true, true]],
    ['delete images', 'artifact', 'delete', [false, false, false, true, true]],
    ['create labels', 'label', 'create', [false, false, false, true, true]],
    ['see robot accounts', 'robot', 'list', [false, true, true, true, true]],
    ['create robot accounts', 'robot', 'create', [false, false, false, false, true]],
    ['delete the project', 'project', 'delete', [false, false, false, false, true]],
  ] as const)('%s', (_what, resource, action, expected) => {
    expect(column(resource, action)).toEqual(expected);
  });

  it('lets anyone pull from and see a public project, and no one who is not a member into a private one', () => {
    for (const who of ['anonymous', 'nonMember'] as const) {
      expect(allowed(who, 'repository', 'pull', publicProject)).toBe(true);
      expect(allowed(who, 'project', 'read', publicProject)).toBe(true);
      expect(allowed(who, 'repository', 'push', publicProject)).toBe(false);
      expect(allowed(who, 'repository', 'pull', privateProject)).toBe(false);
      expect(allowed(who, 'project', 'read', privateProject)).toBe(false);
    }
  });

  it('refuses every route to credentials that are wrong, expired or disabled', () => {
    const anyone: EndpointAccess = { kind: 'anyone' };
    for (const who of ['wrongPassword', 'expiredRobot', 'disabledRobot'] as const) {
      expect(passesDeclaredAccess(anyone, principalModel(who), publicProject)).toBe(false);
    }
  });

  it('gives a robot exactly its grants, and a system administrator everything', () => {
    const robot: PrincipalModel = principalModel('projectRobot', [
      { kind: 'project', namespace: 'team', resource: 'repository', action: 'pull' },
    ]);
    expect(robot.canInProject(privateProject, 'repository', 'pull')).toBe(true);
    expect(robot.canInProject(privateProject, 'repository', 'push')).toBe(false);
    expect(robot.canInProject({ ...privateProject, name: 'other' }, 'repository', 'pull')).toBe(false);
    expect(robot.canInSystem('user', 'list')).toBe(false);
    const admin = principalModel('sysadmin');
    expect(admin.canInSystem('configuration', 'update')).toBe(true);
    expect(admin.canInProject(privateProject, 'member', 'delete')).toBe(true);
  });
});
