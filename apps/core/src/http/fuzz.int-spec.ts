import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OciErrorCode } from '@wharf/oci';
import { rawRequest } from '@wharf/testkit';
import { RegistryClient, RegistryFixtures, type PushedImage, sha256 } from '../registry/testing/registry-fixtures.js';
import {
  type FuzzRequest,
  type FuzzTarget,
  Random,
  apiRequest,
  rawPayload,
  registryRequest,
} from '../testing/fuzz-requests.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';

/** WHARF_FUZZ_SEED repeats a run; each run otherwise draws its own, and names it in every failure. */
const SEED = Number(process.env.WHARF_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const API_REQUESTS = 2_000;
const REGISTRY_REQUESTS = 1_500;
const RAW_REQUESTS = 500;
const CONCURRENCY = 6;
const OCI_CODES = new Set<string>(Object.values(OciErrorCode));

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface State {
  catalog: string;
  tags: string;
  used: number;
  artifacts: string;
}

/** What an error answer must look like: `{"errors":[{"code","message"}…]}`, with the OCI codes on /v2. */
function envelopeProblem(body: string, registry: boolean): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `body is not JSON: ${JSON.stringify(body.slice(0, 200))}`;
  }
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return `no errors array: ${body.slice(0, 200)}`;
  for (const error of errors as { code?: unknown; message?: unknown }[]) {
    if (typeof error.code !== 'string' || typeof error.message !== 'string') return `bad entry: ${body.slice(0, 200)}`;
    if (registry && !OCI_CODES.has(error.code)) return `not an OCI error code: ${error.code}`;
  }
  return undefined;
}

function describeRequest(request: FuzzRequest): string {
  const body = request.body ? ` body=${JSON.stringify(request.body.toString('latin1').slice(0, 120))}` : '';
  return `${request.method} ${request.path.slice(0, 200)} ${JSON.stringify(request.headers).slice(0, 200)}${body}`;
}

describe('core under malformed requests', () => {
  let core: TestCore;
  let fixtures: RegistryFixtures;
  let target: FuzzTarget;
  let image: PushedImage;
  let token: string;
  let session: { cookie: string; csrf: string };

  async function state(): Promise<State> {
    const reader = new RegistryClient(
      core.url,
      await fixtures.token(['registry:catalog:*', `repository:${target.repository}:pull`], core.admin),
    );
    const artifacts = await core.request<{ digest: string; size: number; tags?: { name: string }[] }[]>(
      'GET',
      `/api/v2.0/projects/${target.project}/repositories/app/artifacts?with_tag=true`,
      { auth: core.admin },
    );
    return {
      catalog: (await reader.request('GET', '/v2/_catalog')).body.toString(),
      tags: (await reader.request('GET', `/v2/${target.repository}/tags/list`)).body.toString(),
      used: await fixtures.usedStorage(target.projectId),
      // Pull times move with every read; what was stored must not.
      artifacts: JSON.stringify(
        artifacts.body.map(({ digest, size, tags }) => ({ digest, size, tags: tags?.map((tag) => tag.name) })),
      ),
    };
  }

  beforeAll(async () => {
    core = await startTestCore();
    fixtures = new RegistryFixtures(core);
    const projectId = await fixtures.project('fuzz', { storageLimit: 10_000_000 });
    token = await fixtures.token(['repository:fuzz/app:pull,push,delete', 'registry:catalog:*'], core.admin);
    image = await new RegistryClient(core.url, token).pushImage('fuzz/app', 'v1', Buffer.from('{"os":"fuzz"}'), [
      Buffer.from('fuzz layer'),
    ]);
    target = {
      project: 'fuzz',
      projectId,
      repository: 'fuzz/app',
      tag: 'v1',
      manifestDigest: image.digest,
      blobDigest: sha256(image.layers[0]),
    };
    const login = await core.request('POST', '/c/login', {
      body: new URLSearchParams({ principal: core.admin.username, password: core.admin.password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const sid = /sid=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
    session = { cookie: `sid=${sid}`, csrf: login.headers.get('x-harbor-csrf-token') ?? '' };
  }, 60_000);

  afterAll(async () => {
    await core?.close();
  });

  /** HEAD goes over a raw socket, where bytes after the headers would be seen; the rest through fetch. */
  async function send(request: FuzzRequest): Promise<Answer | undefined> {
    const headers = { ...request.headers };
    if (request.auth === 'session')
      Object.assign(headers, { cookie: session.cookie, 'x-harbor-csrf-token': session.csrf });
    if (request.auth === 'token') headers.authorization = `Bearer ${token}`;
    if (request.method === 'HEAD') {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
      return rawRequest(
        core.url,
        `HEAD ${request.path} HTTP/1.1\r\nHost: x\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`,
      );
    }
    const body = request.method === 'GET' ? undefined : request.body;
    const response = await fetch(`${core.url}${request.path}`, {
      method: request.method,
      headers,
      body,
      redirect: 'manual',
    });
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: Buffer.from(await response.arrayBuffer()).toString('latin1'),
    };
  }

  function problemOf(request: FuzzRequest, answer: Answer | undefined): string | undefined {
    if (!answer) return 'no answer';
    if (answer.status >= 500 || Number.isNaN(answer.status)) return `status ${answer.status}`;
    if (answer.headers['x-content-type-options'] !== 'nosniff') return 'no X-Content-Type-Options: nosniff';
    if (request.method === 'HEAD')
      return answer.body === '' ? undefined : `HEAD answered a body: ${answer.body.slice(0, 100)}`;
    if (answer.status < 400) return undefined;
    // fetch resolves dot segments (`/v2/../x` is `/x`), the raw socket of a HEAD sends the path as it is.
    const sent = request.method === 'HEAD' ? request.path : new URL(`${core.url}${request.path}`).pathname;
    return envelopeProblem(answer.body, /^\/v2(?:\/|$)/.test(sent));
  }

  /** Runs `count` jobs with at most CONCURRENCY at once. */
  async function pool(count: number, job: (index: number) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) await job(next++);
      }),
    );
  }

  it(`answers every request without a 5xx, in its API's envelope, and changes nothing (seed ${SEED})`, async () => {
    process.stderr.write(`fuzzing core with seed ${SEED} (WHARF_FUZZ_SEED=${SEED} repeats this run)\n`);
    const before = await state();
    const random = new Random(SEED);
    const requests = [
      ...Array.from({ length: API_REQUESTS }, () => apiRequest(random, target)),
      ...Array.from({ length: REGISTRY_REQUESTS }, () => registryRequest(random, target)),
    ];
    const raws = Array.from({ length: RAW_REQUESTS }, () => rawPayload(random, target, core.url));
    const failures: string[] = [];
    const statuses = new Map<number, number>();

    await pool(requests.length, async (index) => {
      const request = requests[index];
      const answer = await send(request);
      statuses.set(answer?.status ?? 0, (statuses.get(answer?.status ?? 0) ?? 0) + 1);
      const problem = problemOf(request, answer);
      if (problem) failures.push(`${problem} <- ${describeRequest(request)}`);
    });
    await pool(raws.length, async (index) => {
      const payload = raws[index];
      const answer = await rawRequest(core.url, payload, { halfClose: true });
      // The parser may close a connection whose bytes make no request at all; whatever it answers must be sound.
      if (!answer) return;
      const text = payload.toString('latin1');
      const problem =
        answer.status >= 500 || Number.isNaN(answer.status)
          ? `status ${answer.status}`
          : answer.status >= 400 && !text.startsWith('HEAD ')
            ? envelopeProblem(
                answer.body.slice(0, Number(answer.headers['content-length'] ?? answer.body.length)),
                /^\S* (?:https?:\/\/[^/]*)?\/v2/.test(text),
              )
            : undefined;
      if (problem) failures.push(`${problem} <- raw ${JSON.stringify(text.slice(0, 200))}`);
    });

    expect({ seed: SEED, failures: failures.slice(0, 20), count: failures.length }).toEqual({
      seed: SEED,
      failures: [],
      count: 0,
    });
    // Most requests must have got past the router, or the run proves little.
    const refusedAtTheDoor = (statuses.get(400) ?? 0) + (statuses.get(404) ?? 0);
    expect(refusedAtTheDoor).toBeLessThan(requests.length);
    expect(await state()).toEqual(before);
    expect((await core.request('GET', '/api/v2.0/ping')).text).toBe('Pong');
  }, 180_000);
});
