/**
 * Malformed requests for core's API and registry, drawn from a seeded generator so that a failing run can be
 * repeated exactly. Every request that could change something (any method but GET and HEAD) carries at least one
 * fault that must make it refused: a malformed path value, a body with a NUL character or that is not JSON, a body
 * in another media type, a digest that matches nothing. What reads is free to be valid.
 */

/** mulberry32: small, fast and good enough to spread test cases; the same seed gives the same sequence. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  hex(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += '0123456789abcdef'[this.int(16)];
    return out;
  }
}

export interface FuzzTarget {
  /** The project, repository, tag and digests that exist. */
  project: string;
  projectId: number;
  repository: string;
  tag: string;
  manifestDigest: string;
  blobDigest: string;
}

export interface FuzzRequest {
  method: string;
  /** Path and query, already percent-encoded as they go on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Which credentials go with it: the session of an administrator, a registry token, or none. */
  auth: 'session' | 'token' | 'none';
}

/** Path segment values no route may act on: each is refused, or names nothing. */
const BAD_SEGMENTS = [
  '%00',
  'a%00b',
  '%zz',
  '%',
  '%C0%AF',
  '%FF%FE',
  '%E2%80%AE',
  '2147483648',
  '99999999999999999999999999999',
  '-1',
  '0x10',
  '1e9',
  '..%2F..%2Fetc',
  '%2e%2e',
  'a'.repeat(300),
  'A'.repeat(2000),
  'x%0Dy',
  '%u0000',
  '__proto__',
  'constructor',
];

const BAD_QUERY_VALUES = [
  '%00',
  'x%00',
  '%zz',
  '0x10',
  '1e1',
  '-1',
  '0',
  '2147483648',
  '99999999999999999999999999',
  '%2B1',
  '%201',
  '1.5',
  'a'.repeat(5000),
  'name%3D%00',
  'name%3D~%00',
  'id%3D%5B1~99999999999999999999%5D',
  'creation_time%3D%5B2020-13-45~%5D',
  '%7B%7D',
  '%5B%5D',
];

const NUL_STRINGS = ['\u0000', 'a\u0000b', 'x'.repeat(100) + '\u0000'];

const BODY_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/vnd.oci.image.manifest.v1+json',
  'application/merge-patch+json',
  '*/*',
  'garbage',
];

/** Something that is not JSON, JSON that nests past any sane depth, or JSON that reaches for a prototype. */
function brokenJson(random: Random): Buffer {
  const depth = 1 + random.int(20_000);
  return random.pick([
    () => Buffer.from('{'),
    () => Buffer.from('{"project_name":'),
    () => Buffer.from('[1,2'),
    () => Buffer.from('{"a":1}}'),
    () => Buffer.from('nul'),
    () => Buffer.from("{'single':'quotes'}"),
    () => Buffer.from('{"a":"\\u00"}'),
    () => Buffer.from('{"__proto__":{"admin":true}}x'),
    () => Buffer.from('{"project_name":"x","__proto__":{"sysadmin_flag":true}}'),
    () => Buffer.from('{"project_name":"x","constructor":{"prototype":{"admin":true}}}'),
    () => random.bytes(1 + random.int(200)),
    () => Buffer.from('['.repeat(depth) + ']'.repeat(depth - 1)),
    () => Buffer.from('\ufeff{"a":'),
  ])();
}

/** Stands for a number past any JSON parser's range (1e400), which JavaScript cannot hold to stringify. */
const HUGE = 'huge number';

/** A plausible body for a route, with a NUL string planted in a field or a key, and other junk around it. */
function poisonedJson(random: Random, fields: Record<string, unknown>): Buffer {
  const body: Record<string, unknown> = { ...fields };
  const keys = Object.keys(body);
  const junk: unknown[] = [
    HUGE,
    `-${HUGE}`,
    2 ** 31,
    2 ** 63,
    -1,
    1.5,
    '',
    [],
    {},
    null,
    true,
    'x'.repeat(10_000),
    { nested: { deeper: HUGE } },
  ];
  for (let i = random.int(3); i > 0; i--) {
    if (keys.length > 0) body[random.pick(keys)] = random.pick(junk);
  }
  const nul = random.pick(NUL_STRINGS);
  if (keys.length > 0 && random.chance(0.7)) body[random.pick(keys)] = nul;
  else body[`key${nul}`] = 1;
  const text = JSON.stringify(body).replace(/"(-?)huge number"/g, '$11e400');
  return Buffer.from(text);
}

/** A mutation's body: never one a route would act on. */
function refusedBody(random: Random, fields: Record<string, unknown>): { body: Buffer; contentType: string } {
  switch (random.int(4)) {
    case 0:
      return { body: brokenJson(random), contentType: random.pick(BODY_TYPES.slice(0, 2)) };
    case 1:
      return {
        body: Buffer.from(
          new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)])).toString(),
        ),
        contentType: random.pick(BODY_TYPES.slice(2)),
      };
    default:
      return { body: poisonedJson(random, fields), contentType: random.pick(BODY_TYPES.slice(0, 2)) };
  }
}

function query(random: Random, names: readonly string[], valid: Record<string, string>): string {
  const parts: string[] = [];
  for (const name of names) {
    if (!random.chance(0.5)) continue;
    const value = random.chance(0.6) ? random.pick(BAD_QUERY_VALUES) : (valid[name] ?? '1');
    parts.push(`${name}=${value}`);
    if (random.chance(0.05)) parts.push(`${name}=${value}`);
  }
  if (random.chance(0.1)) parts.push(random.pick(['%zz', '&&', '=', 'a[b]=c', '__proto__[x]=1', '%00=%00']));
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

interface ApiRoute {
  method: string;
  /** `{p}` project, `{id}` a numeric id, `{r}` repository, `{ref}` reference, `{tag}` tag. */
  path: string;
  query?: readonly string[];
  /** Body fields of a valid request, which the generator spoils. */
  body?: Record<string, unknown>;
}

const LIST = ['page', 'page_size', 'q', 'sort'] as const;

const API_ROUTES: ApiRoute[] = [
  { method: 'GET', path: '/api/v2.0/projects', query: [...LIST, 'name', 'public', 'owner', 'with_detail'] },
  { method: 'HEAD', path: '/api/v2.0/projects', query: ['project_name'] },
  { method: 'GET', path: '/api/v2.0/projects/{p}' },
  { method: 'GET', path: '/api/v2.0/projects/{p}/summary' },
  { method: 'GET', path: '/api/v2.0/projects/{p}/_deletable' },
  { method: 'GET', path: '/api/v2.0/projects/{p}/members', query: [...LIST, 'entityname'] },
  { method: 'GET', path: '/api/v2.0/projects/{p}/members/{id}' },
  { method: 'GET', path: '/api/v2.0/projects/{p}/logs', query: LIST },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories', query: LIST },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}' },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts', query: [...LIST, 'with_tag'] },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}', query: ['with_tag'] },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}/tags', query: LIST },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}/accessories', query: LIST },
  { method: 'GET', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}/additions/{tag}' },
  { method: 'GET', path: '/api/v2.0/repositories', query: LIST },
  { method: 'GET', path: '/api/v2.0/audit-logs', query: LIST },
  { method: 'GET', path: '/api/v2.0/users', query: [...LIST, 'username', 'email'] },
  { method: 'GET', path: '/api/v2.0/users/search', query: ['username', 'page', 'page_size'] },
  { method: 'GET', path: '/api/v2.0/users/{id}' },
  { method: 'GET', path: '/api/v2.0/users/current/permissions', query: ['scope', 'relative'] },
  { method: 'GET', path: '/api/v2.0/robots', query: LIST },
  { method: 'GET', path: '/api/v2.0/robots/{id}' },
  { method: 'GET', path: '/api/v2.0/quotas', query: [...LIST, 'reference', 'reference_id'] },
  { method: 'GET', path: '/api/v2.0/quotas/{id}' },
  { method: 'GET', path: '/api/v2.0/search', query: ['q'] },
  { method: 'GET', path: '/api/v2.0/permissions' },
  { method: 'GET', path: '/api/v2.0/systeminfo' },
  { method: 'GET', path: '/api/v2.0/statistics' },
  { method: 'GET', path: '/service/token', query: ['service', 'scope', 'account', 'offline_token'] },
  { method: 'POST', path: '/api/v2.0/projects', body: { project_name: 'fuzzed', metadata: { public: 'true' } } },
  { method: 'PUT', path: '/api/v2.0/projects/{p}', body: { metadata: { public: 'true' }, storage_limit: 1 } },
  { method: 'DELETE', path: '/api/v2.0/projects/{p}' },
  { method: 'POST', path: '/api/v2.0/projects/{p}/members', body: { role_id: 1, member_user: { username: 'admin' } } },
  { method: 'PUT', path: '/api/v2.0/projects/{p}/members/{id}', body: { role_id: 3 } },
  { method: 'DELETE', path: '/api/v2.0/projects/{p}/members/{id}' },
  { method: 'PUT', path: '/api/v2.0/projects/{p}/repositories/{r}', body: { description: 'fuzzed' } },
  { method: 'DELETE', path: '/api/v2.0/projects/{p}/repositories/{r}' },
  { method: 'DELETE', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}' },
  { method: 'POST', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}/tags', body: { name: 'fuzzed' } },
  { method: 'DELETE', path: '/api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}/tags/{tag}' },
  { method: 'PUT', path: '/api/v2.0/quotas/{id}', body: { hard: { storage: 1 } } },
  {
    method: 'POST',
    path: '/api/v2.0/users',
    body: { username: 'fuzzed', email: 'f@example.com', realname: 'F', password: 'Passw0rd-fuzz' },
  },
  { method: 'PUT', path: '/api/v2.0/users/{id}', body: { email: 'g@example.com', realname: 'G' } },
  { method: 'PUT', path: '/api/v2.0/users/{id}/password', body: { old_password: 'x', new_password: 'Passw0rd-new' } },
  { method: 'PUT', path: '/api/v2.0/users/{id}/sysadmin', body: { sysadmin_flag: true } },
  { method: 'DELETE', path: '/api/v2.0/users/{id}' },
  {
    method: 'POST',
    path: '/api/v2.0/robots',
    body: { name: 'fuzzed', level: 'system', duration: -1, permissions: [] },
  },
  { method: 'PUT', path: '/api/v2.0/robots/{id}', body: { name: 'fuzzed', level: 'system', duration: 1 } },
  { method: 'PATCH', path: '/api/v2.0/robots/{id}', body: { secret: '' } },
  { method: 'DELETE', path: '/api/v2.0/robots/{id}' },
  { method: 'PUT', path: '/api/v2.0/configurations', body: { robot_token_duration: 30 } },
  { method: 'POST', path: '/c/login', body: { principal: 'admin', password: 'wrong' } },
];

/** Any method but a read, and methods no route takes (fetch refuses to send TRACE and CONNECT). */
const STRAY_METHODS = ['OPTIONS', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'REPORT'];

function placeholders(random: Random, path: string, target: FuzzTarget, mustSpoil: boolean): string {
  const names = path.match(/\{[a-z]+\}/g) ?? [];
  const spoilAt = mustSpoil && names.length > 0 ? random.int(names.length) : -1;
  let index = 0;
  return path.replace(/\{([a-z]+)\}/g, (_match, name: string) => {
    const spoil = index++ === spoilAt || random.chance(0.4);
    if (spoil) return random.pick(BAD_SEGMENTS);
    switch (name) {
      case 'p':
        return random.pick([target.project, String(target.projectId)]);
      case 'r':
        return random.pick([target.repository.split('/').slice(1).join('/'), encodeURIComponent('a/b')]);
      case 'ref':
        return random.pick([target.manifestDigest, target.tag]);
      case 'tag':
        return target.tag;
      default:
        return random.pick(['1', '2', String(target.projectId)]);
    }
  });
}

/** One request of the management API, the token service or the login. */
export function apiRequest(random: Random, target: FuzzTarget): FuzzRequest {
  const route = random.pick(API_ROUTES);
  const reads = route.method === 'GET' || route.method === 'HEAD';
  const method = random.chance(0.05) ? random.pick(STRAY_METHODS) : route.method;
  const hasPlaceholder = route.path.includes('{');
  // A mutation without a path value to spoil is made harmless by its body.
  const spoilPath = !reads && (hasPlaceholder ? !route.body || random.chance(0.5) : false);
  let path = placeholders(random, route.path, target, spoilPath);
  path += query(random, route.query ?? [], { page: '1', page_size: '10', service: 'harbor-registry' });
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  if (route.body && (!reads || random.chance(0.1))) {
    if (spoilPath && random.chance(0.5)) {
      body = Buffer.from(JSON.stringify(route.body));
      headers['content-type'] = 'application/json';
    } else {
      const refused = refusedBody(random, route.body);
      body = refused.body;
      headers['content-type'] = refused.contentType;
    }
  } else if (random.chance(0.2)) {
    headers['content-type'] = random.pick(BODY_TYPES);
    body = random.chance(0.5) ? Buffer.alloc(0) : brokenJson(random);
  }
  if (random.chance(0.2)) headers['x-is-resource-name'] = random.pick(['true', 'false', 'TRUE', '1', 'yes']);
  if (random.chance(0.05)) headers['x-request-id'] = random.pick(['a'.repeat(500), '../x', '%00']);
  let auth: FuzzRequest['auth'] = random.chance(0.85) ? 'session' : 'none';
  if (random.chance(0.05)) {
    auth = 'none';
    headers.authorization = random.pick([
      'Basic !!!',
      `Basic ${Buffer.from(`fuzz${random.int(1000)}:x`).toString('base64')}`,
      `Basic ${Buffer.from(`nobody\u0000:x\u0000`).toString('base64')}`,
      'Bearer x.y.z',
      'Digest a=b',
      'Basic',
    ]);
  }
  return { method, path, headers, body, auth };
}

/** A body a manifest PUT can only refuse: not JSON, or JSON that is no image manifest or index. */
function brokenManifest(random: Random): Buffer {
  return random.pick([
    () => brokenJson(random),
    () => Buffer.from('{}'),
    () => Buffer.from('{"schemaVersion":2}'),
    () => Buffer.from('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}'),
    () => Buffer.from('{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":-1},"layers":"x"}'),
    () => Buffer.from(`{"schemaVersion":2,"config":{"digest":"${'a'.repeat(64)}","size":1e400},"layers":[]}`),
    () => Buffer.from('{"schemaVersion":2,"manifests":"\\u0000"}'),
    () => Buffer.from('{"schemaVersion":99999999999999999999999,"layers":[null]}'),
  ])();
}

const BAD_NAMES = [
  'fuzz/APP',
  'fuzz/%00',
  'fuzz/%zz',
  'fuzz//app',
  '../fuzz',
  'fuzz/app%2Fx',
  `fuzz/${'a'.repeat(300)}`,
  '-fuzz/app',
  'fuzz/app/',
  '%2e%2e/fuzz',
];

const BAD_REFERENCES = [
  'sha256:zz',
  `sha256:${'g'.repeat(64)}`,
  `sha256:${'A'.repeat(64)}`,
  'sha512:abc',
  'a:b:c',
  'v'.repeat(200),
  '-tag',
  '%00',
  '%zz',
  'sha256:',
  ':',
];

const BAD_RANGES = ['bytes=-', 'bytes=5-1', 'bytes=99999999999999999999-', 'items=0-1', 'bytes=0-1,2-3', 'x'];
const BAD_CONTENT_RANGES = ['0-99/50', '99-0', '0-99999999999999999999', 'bytes=a-b', '-1-5', '5-'];

/** One request of the registry at /v2. */
export function registryRequest(random: Random, target: FuzzTarget): FuzzRequest {
  const name = random.chance(0.6) ? target.repository : random.pick(BAD_NAMES);
  const randomDigest = (): string => `sha256:${random.hex(64)}`;
  const headers: Record<string, string> = {};
  let method = 'GET';
  let path: string;
  let body: Buffer | undefined;
  switch (random.int(10)) {
    case 0:
      method = random.pick(['GET', 'HEAD']);
      path = '/v2/';
      break;
    case 1:
      path = `/v2/_catalog${query(random, ['n', 'last'], { n: '2', last: 'fuzz' })}`;
      break;
    case 2:
      path = `/v2/${name}/tags/list${query(random, ['n', 'last'], { n: '1', last: target.tag })}`;
      break;
    case 3: {
      method = random.pick(['GET', 'HEAD']);
      const reference = random.pick([target.tag, target.manifestDigest, randomDigest(), ...BAD_REFERENCES]);
      path = `/v2/${name}/manifests/${reference}`;
      if (random.chance(0.5)) headers.accept = random.pick(['*/*', 'text/html', '', 'application/json;q=x']);
      break;
    }
    case 4: {
      method = random.pick(['GET', 'HEAD']);
      path = `/v2/${name}/blobs/${random.pick([target.blobDigest, randomDigest(), ...BAD_REFERENCES])}`;
      if (random.chance(0.5)) headers.range = random.pick(BAD_RANGES);
      break;
    }
    case 5:
      method = 'PUT';
      path = `/v2/${name}/manifests/${random.pick([target.tag, 'fuzzed', randomDigest(), ...BAD_REFERENCES])}`;
      body = brokenManifest(random);
      headers['content-type'] = random.pick([
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/json',
        'text/plain',
      ]);
      break;
    case 6:
      method = 'DELETE';
      path = `/v2/${name}/${random.pick(['manifests', 'blobs'])}/${random.pick([randomDigest(), ...BAD_REFERENCES])}`;
      break;
    case 7: {
      method = 'POST';
      // A mount from nowhere, a digest that is not the body's, or a name that is refused: never a blob stored.
      const params = random.pick([
        `?digest=${random.pick([randomDigest(), ...BAD_REFERENCES])}`,
        `?mount=${random.pick([randomDigest(), ...BAD_REFERENCES])}&from=${random.pick(BAD_NAMES)}`,
        `?mount=${target.blobDigest}&from=${random.pick(BAD_NAMES)}`,
        `?digest=${randomDigest()}&digest=${randomDigest()}`,
      ]);
      path = `/v2/${name}/blobs/uploads/${params}`;
      body = random.bytes(random.int(100));
      headers['content-type'] = 'application/octet-stream';
      break;
    }
    case 8: {
      method = random.pick(['GET', 'PATCH', 'PUT', 'DELETE']);
      const session = random.pick([random.hex(32), '%00', 'a'.repeat(500), '..', '%zz']);
      path = `/v2/${name}/blobs/uploads/${session}${method === 'PUT' ? `?digest=${randomDigest()}` : ''}`;
      if (method === 'PATCH' || method === 'PUT') {
        body = random.bytes(random.int(100));
        headers['content-type'] = 'application/octet-stream';
        if (random.chance(0.5)) headers['content-range'] = random.pick(BAD_CONTENT_RANGES);
      }
      break;
    }
    default:
      method = random.pick(['GET', ...STRAY_METHODS]);
      path = `/v2/${name}/referrers/${random.pick([target.manifestDigest, ...BAD_REFERENCES])}${query(random, ['artifactType'], {})}`;
  }
  if (random.chance(0.05) && method === 'GET') method = random.pick(STRAY_METHODS);
  const auth: FuzzRequest['auth'] = random.chance(0.85) ? 'token' : 'none';
  if (auth === 'none' && random.chance(0.5)) {
    headers.authorization = random.pick(['Bearer x.y.z', 'Bearer ', 'Basic !!!', `Bearer ${'a'.repeat(5000)}`]);
  }
  return { method, path, headers, body, auth };
}

/** A request line, headers and body as bytes, damaged where HTTP's parser or the router has to refuse them. */
export function rawPayload(random: Random, target: FuzzTarget, origin: string): Buffer {
  const method = random.pick([
    'GET',
    'HEAD',
    'POST',
    'PUT',
    'PATCH',
    'DELETE',
    'TRACE',
    'OPTIONS',
    'G\tT',
    'GE T',
    'FOO',
    '',
  ]);
  const path = random.pick([
    '/api/v2.0/ping',
    `/api/v2.0/projects/${target.project}`,
    '/api/v2.0/projects',
    '/v2/',
    `/v2/${target.repository}/tags/list`,
    `/v2/${target.repository}/blobs/uploads/`,
    '/c/login',
  ]);
  const requestTarget = random.pick([
    path,
    `${origin}${path}`,
    `http://elsewhere.example${path}`,
    `https://${'h'.repeat(300)}${path}`,
    '*',
    path.slice(1),
    `${path}\u0000`,
    `${path} x`,
    `${path}%`,
    `${path}?${'q'.repeat(20_000)}`,
    `/${'a/'.repeat(3000)}`,
  ]);
  const version = random.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTQ/1.1', '']);
  const headers = ['Host: 127.0.0.1'];
  const faults = [
    'Content-Length: abc',
    'Content-Length: -1',
    'Content-Length: 1e3',
    'Content-Length: 99999999999999999999999',
    'Content-Length: 1\r\nContent-Length: 2',
    'Content-Length: 5\r\nTransfer-Encoding: chunked',
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: gzip, chunked, identity',
    'Transfer-Encoding: x',
    'Header-Without-Colon',
    'Bad Name: x',
    ' folded: continuation',
    'X-Nul: a\u0000b',
    'X-Ctl: a\u0001b',
    `X-Big: ${'b'.repeat(20_000)}`,
    'Content-Type: application/json',
    'Expect: 100-continue',
    'Expect: nonsense',
    'Connection: upgrade\r\nUpgrade: h2c',
    'Authorization: Basic \u00ff\u00fe',
    `Cookie: sid=${'c'.repeat(5000)}`,
    'Host: a\r\nHost: b',
  ];
  for (let i = 1 + random.int(3); i > 0; i--) headers.push(random.pick(faults));
  if (random.chance(0.7)) headers.push('Connection: close');
  const body = random.pick([
    '',
    '{',
    '{"project_name":"raw\\u0000"}',
    '0\r\n\r\n',
    'zz\r\nabc\r\n0\r\n\r\n',
    '5\r\nab\r\n',
    'ffffffffffffffffffff\r\n',
  ]);
  const text = `${method} ${requestTarget} ${version}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
  if (random.chance(0.1)) return Buffer.concat([Buffer.from(text), random.bytes(random.int(300))]);
  if (random.chance(0.05)) return random.bytes(1 + random.int(500));
  return Buffer.from(text, 'latin1');
}
