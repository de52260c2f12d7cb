import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { type z } from 'zod';
import { ConfigError, type ConfigIssue } from './config.error.js';
import { describeValue, harborConfigSchema, keysAt } from './config.schema.js';
import { type WharfConfig } from './config.types.js';

export interface LoadedConfig {
  config: WharfConfig;
  /** Settings that are valid but deserve attention (insecure or without effect). */
  warnings: string[];
}

type Env = Record<string, string | undefined>;
type Plain = string | Plain[] | { [key: string]: Plain };

const ENV_PREFIX = 'WHARF__';
const ENV_SEPARATOR = '__';

/** `<data_volume>/secret`: the directory of every secret Wharf generates, readable by Wharf alone. */
export function secretDirectory(dataVolume: string): string {
  return join(dataVolume, 'secret');
}

/**
 * Where install.sh keeps the password of the embedded Redis: generated once, readable by Wharf alone. It is not in
 * harbor.yml, so nobody has to choose one, and it never leaves the host.
 */
export function embeddedRedisPasswordFile(dataVolume: string): string {
  return join(secretDirectory(dataVolume), 'redis.password');
}

/**
 * Reads, overrides from the environment, and validates a harbor.yml file. With the embedded Redis, its password is
 * read from embeddedRedisPasswordFile() when that file exists.
 */
export function loadConfig(file: string, env: Env = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  const loaded = parseConfig(text, file, env);
  return loaded.config.redis.external ? loaded : withEmbeddedRedisPassword(loaded);
}

const MAX_SECRET_BYTES = 4096;

/**
 * A small secret file, trimmed. Never through a symbolic link (ELOOP), never anything but a regular file (a FIFO
 * would block, a device would never end): the file lies under data_volume, which the service user controls, and the
 * reader may be root.
 */
function readSecretFile(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!stats.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREGULAR' });
    const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > MAX_SECRET_BYTES) throw Object.assign(new Error('larger than a secret'), { code: 'EFBIG' });
    }
    return buffer.subarray(0, length).toString('utf8').trim();
  } finally {
    closeSync(fd);
  }
}

function withEmbeddedRedisPassword(loaded: LoadedConfig): LoadedConfig {
  const file = embeddedRedisPasswordFile(loaded.config.dataVolume);
  let password: string;
  try {
    password = readSecretFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Before install.sh has prepared the data volume there is no password, and the embedded Redis has none either.
    if (code === 'ENOENT' || code === 'ENOTDIR') return loaded;
    const warning = `cannot read the embedded Redis password ${file} (${code ?? (error as Error).message}); connecting without it will fail unless this runs as the user that owns ${loaded.config.dataVolume}`;
    return { ...loaded, warnings: [...loaded.warnings, warning] };
  }
  if (password === '') {
    const warning = `the embedded Redis password file ${file} is empty; delete it and run install.sh to generate a new one`;
    return { ...loaded, warnings: [...loaded.warnings, warning] };
  }
  const redis = { ...loaded.config.redis, password };
  return { ...loaded, config: { ...loaded.config, redis } };
}

/**
 * Validates harbor.yml text. `source` names the text in messages. Variables named like
 * `WHARF__EXTERNAL_DATABASE__HARBOR__PASSWORD` override keys (each `__` goes one level down) before
 * validation, so containers can inject secrets without writing them into the file.
 */
export function parseConfig(text: string, source: string, env: Env = process.env): LoadedConfig {
  const document = parseDocument(text, { schema: 'failsafe', prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.map((error) => ({ path: '', message: `invalid YAML: ${firstLine(error.message)}` })),
    );
  }

  const issues: ConfigIssue[] = [];
  const tree = toPlain(document.contents, document, [], issues) ?? {};
  if (typeof tree === 'string' || Array.isArray(tree)) {
    issues.push({ path: '', message: `expected a mapping of keys at the top level, got ${describeValue(tree)}` });
  }
  if (issues.length > 0) throw new ConfigError(source, issues);

  const root = tree as Record<string, Plain>;
  const overridden = applyEnvOverrides(root, env, issues);
  if (issues.length > 0) throw new ConfigError(source, issues);

  const result = harborConfigSchema.safeParse(root, { error: errorMessage });
  if (!result.success) throw new ConfigError(source, toConfigIssues(result.error.issues, overridden));
  return result.data;
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/:$/, '');
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);

/**
 * Turns the failsafe YAML tree into plain objects and strings. Empty and null values are dropped,
 * as Harbor treats `password:` with nothing after it as "not set".
 */
function toPlain(node: unknown, document: Document, path: string[], issues: ConfigIssue[]): Plain | undefined {
  if (node === null || node === undefined) return undefined;
  if (isAlias(node)) return toPlain(node.resolve(document), document, path, issues);
  if (isScalar(node)) {
    // The failsafe schema reads every scalar as a string; only an empty one may be null.
    const value = typeof node.value === 'string' ? node.value : '';
    return node.type === 'PLAIN' && NULLS.has(value) ? undefined : value;
  }
  if (isSeq(node)) {
    return node.items.flatMap((item, index) => toPlain(item, document, [...path, String(index)], issues) ?? []);
  }
  if (isMap(node)) {
    const entries: [string, Plain][] = [];
    for (const pair of node.items) {
      const key = isAlias(pair.key) ? pair.key.resolve(document) : (pair.key as Node | null);
      if (!isScalar(key)) {
        issues.push({ path: path.join('.'), message: 'keys must be plain names' });
        continue;
      }
      const name = String(key.value);
      const value = toPlain(pair.value, document, [...path, name], issues);
      if (value !== undefined) entries.push([name, value]);
    }
    // fromEntries defines own properties, so a key named __proto__ stays an ordinary (unknown) key.
    return Object.fromEntries(entries);
  }
  issues.push({ path: path.join('.'), message: 'unsupported YAML node' });
  return undefined;
}

/**
 * Applies WHARF__* variables to the tree; returns the dotted key each variable set, so errors about
 * those keys can name the variable rather than a line of the file.
 */
function applyEnvOverrides(root: Record<string, Plain>, env: Env, issues: ConfigIssue[]): Map<string, string> {
  const overridden = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const segments = name.slice(ENV_PREFIX.length).toLowerCase().split(ENV_SEPARATOR);
    if (segments.some((segment) => segment === '')) {
      issues.push({ path: '', message: `environment variable ${name}: empty key between "__" separators` });
      continue;
    }
    const value = envScalar(env[name] ?? '');
    let section = root;
    for (const segment of segments.slice(0, -1)) {
      const existing = Object.hasOwn(section, segment) ? section[segment] : undefined;
      if (typeof existing === 'object' && !Array.isArray(existing)) {
        section = existing;
      } else {
        const created: Record<string, Plain> = {};
        define(section, segment, created);
        section = created;
      }
    }
    const last = segments[segments.length - 1];
    if (value === undefined) delete section[last];
    else define(section, last, value);
    overridden.set(segments.join('.'), name);
  }
  return overridden;
}

function define(target: Record<string, Plain>, key: string, value: Plain): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * An environment value is a YAML scalar: quotes are removed and an empty value unsets the key.
 * It is never parsed further (a `#` or `: ` inside a secret stays part of the secret).
 */
function envScalar(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (NULLS.has(trimmed)) return undefined;
  if (trimmed.length >= 2 && trimmed.startsWith("'") && trimmed.endsWith("'")) {
    return trimmed.slice(1, -1).replaceAll("''", "'");
  }
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    try {
      return JSON.parse(trimmed) as string;
    } catch {
      return raw;
    }
  }
  return raw;
}

function errorMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    return issue.input === undefined
      ? 'required (expected a section of keys)'
      : `expected a section of keys, got ${describeValue(issue.input)}`;
  }
  return undefined;
}

function toConfigIssues(zodIssues: z.core.$ZodIssue[], overridden: Map<string, string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(issue.path);
      for (const key of issue.keys) {
        issues.push({ path: [...issue.path, key].join('.'), message: unknownKeyMessage(key, known) });
      }
    } else {
      issues.push({ path: issue.path.join('.'), message: issue.message });
    }
  }
  return issues.map((issue) => {
    const variable = [...overridden].find(([path]) => issue.path === path || issue.path.startsWith(`${path}.`));
    return variable ? { ...issue, message: `${issue.message} (set by ${variable[1]})` } : issue;
  });
}

function unknownKeyMessage(key: string, known: string[]): string {
  const closest = known
    .map((candidate) => ({ candidate, distance: editDistance(key.toLowerCase(), candidate) }))
    .sort((a, b) => a.distance - b.distance)[0];
  if (closest && closest.distance <= Math.max(1, Math.floor(key.length / 4))) {
    return `unknown key; did you mean "${closest.candidate}"?`;
  }
  return known.length > 0 ? `unknown key; expected one of ${known.join(', ')}` : 'unknown key';
}

/** Optimal string alignment distance: a swap of two neighbours counts as one typo, not two. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2][j - 2] + 1);
      rows[i][j] = best;
    }
  }
  return rows[a.length][b.length];
}

/** How to reach Redis database `db` with these settings, in the shape Redis clients (ioredis) take. */
export function redisConnection(
  config: Pick<WharfConfig, 'redis'>,
  db: number,
): { host: string; port: number; username?: string; password?: string; db: number } {
  const { host, port, username, password } = config.redis;
  return { host, port, username, password, db };
}
