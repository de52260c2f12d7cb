import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * Checks JSON bodies against the `definitions` of Harbor's API contract (its Swagger 2.0 file), so
 * tests prove that Wharf answers in the shapes Harbor clients expect. The contract is read from
 * outside the repository at test time; it is Harbor's document, not ours.
 */
export interface HarborContract {
  /** The file the definitions were read from. */
  readonly source: string;
  /** Problems with `value` as an instance of `definition`, each led by a JSON path (`$.metadata.public`); empty when valid. */
  validate(definition: string, value: unknown): string[];
  /** Throws an Error listing every problem when `value` does not satisfy `definition`. */
  assertValid(definition: string, value: unknown): void;
  /** Every definition name in the contract, sorted. */
  definitionNames(): string[];
}

const SWAGGER_FILE = join('shared', 'reference', 'harbor-api-v2.0-swagger.yaml');
const ENV_VARIABLE = 'WHARF_HARBOR_SWAGGER';

// The CommonJS plugin's default export is the function at run time, but TypeScript under
// nodenext sees the module object; accept either shape.
type AddFormats = (ajv: Ajv, options?: { mode?: 'fast' | 'full' }) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

function repositoryRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Where Harbor's swagger is: `$WHARF_HARBOR_SWAGGER` when set (and then nowhere else, so a wrong
 * setting is reported rather than hidden), else `shared/reference/` beside the repository, else
 * under /work. Throws an Error naming every place it looked.
 */
export function locateHarborSwagger(env: Record<string, string | undefined> = process.env): string {
  const configured = env[ENV_VARIABLE];
  if (configured !== undefined && configured !== '') {
    const path = resolve(configured);
    if (existsSync(path)) return path;
    throw new Error(`Harbor's API swagger is not at ${path}, where ${ENV_VARIABLE} points`);
  }
  const root = repositoryRoot();
  const candidates = [...(root === undefined ? [] : [resolve(root, '..', SWAGGER_FILE)]), join('/work', SWAGGER_FILE)];
  const found = candidates.find((path) => existsSync(path));
  if (found !== undefined) return found;
  throw new Error(
    `Harbor's API swagger (harbor-api-v2.0-swagger.yaml) was not found; looked at ${candidates.join(', ')}. ` +
      `Set ${ENV_VARIABLE} to its path.`,
  );
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type SchemaNode = { [key: string]: Json };

function isObject(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Swagger 2.0 keywords that annotate a schema without constraining it. */
const ANNOTATIONS = new Set(['example', 'discriminator', 'externalDocs', 'xml']);

/**
 * Rewrites one Swagger 2.0 schema as JSON Schema for Ajv. Only schema positions are walked, so a
 * property that happens to be named "example" or "x-foo" is kept. go-swagger's `x-nullable` (and its
 * older spelling `x-isnullable`) becomes "null is allowed", which JSON Schema says with a type list,
 * or around a `$ref` with a condition that leaves the referenced schema's own errors readable.
 */
function toJsonSchema(node: Json, where: string): SchemaNode {
  if (!isObject(node)) throw new Error(`Harbor's swagger has a schema that is not an object at ${where}`);
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || ANNOTATIONS.has(key)) continue;
    switch (key) {
      case 'properties': {
        if (!isObject(value)) throw new Error(`Harbor's swagger has properties that are not an object at ${where}`);
        const properties: SchemaNode = {};
        for (const [name, schema] of Object.entries(value)) {
          properties[name] = toJsonSchema(schema, `${where}.properties.${name}`);
        }
        out[key] = properties;
        break;
      }
      case 'items':
        out[key] = Array.isArray(value)
          ? value.map((item, i) => toJsonSchema(item, `${where}.items[${i}]`))
          : toJsonSchema(value, `${where}.items`);
        break;
      case 'additionalProperties':
        out[key] = typeof value === 'boolean' ? value : toJsonSchema(value, `${where}.additionalProperties`);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        if (!Array.isArray(value)) throw new Error(`Harbor's swagger has a ${key} that is not a list at ${where}`);
        out[key] = value.map((item, i) => toJsonSchema(item, `${where}.${key}[${i}]`));
        break;
      case 'not':
        out[key] = toJsonSchema(value, `${where}.not`);
        break;
      default:
        out[key] = value;
    }
  }
  const nullable = node['x-nullable'] === true || node['x-isnullable'] === true;
  if (!nullable) return out;
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return out;
  }
  return { if: { type: 'null' }, else: out };
}

/** Formats Harbor uses that JSON Schema and ajv-formats do not define (Go's integer and float kinds). */
const GO_NUMBER_FORMATS: Record<string, (n: number) => boolean> = {
  int: (n) => Number.isInteger(n),
  int8: (n) => Number.isInteger(n) && n >= -128 && n <= 127,
  uint64: (n) => Number.isInteger(n) && n >= 0,
  float64: (n) => Number.isFinite(n),
};

function formatsUsed(node: Json, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) formatsUsed(item, found);
  } else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') found.add(value);
      else formatsUsed(value, found);
    }
  }
  return found;
}

function pointerSegment(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Turns Ajv's JSON Pointer (`/items/0/name`) into a JSON path (`$.items[0].name`). */
function jsonPath(pointer: string, child?: string): string {
  const segments = pointer === '' ? [] : pointer.slice(1).split('/');
  if (child !== undefined) segments.push(pointerSegment(child));
  let path = '$';
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) path += `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  return typeof value;
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function describeError(error: ErrorObject, root: unknown): string | undefined {
  const at = jsonPath(error.instancePath);
  const actual = describeValue(valueAt(root, error.instancePath));
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    // The nullable wrapper's own verdict adds nothing to the errors of the schema it guards.
    case 'if':
      return undefined;
    case 'required':
      return `${jsonPath(error.instancePath, String(params.missingProperty))}: is required but missing`;
    case 'additionalProperties':
      return `${jsonPath(error.instancePath, String(params.additionalProperty))}: is not a property of this definition`;
    case 'type': {
      const expected = Array.isArray(params.type) ? params.type.join(' or ') : String(params.type);
      return `${at}: must be ${expected.replace(/,/g, ' or ')}, got ${actual}`;
    }
    case 'format':
      return `${at}: must be ${String(params.format)}, got ${actual}`;
    case 'enum':
      return `${at}: must be one of ${JSON.stringify(params.allowedValues)}, got ${actual}`;
    default:
      return `${at}: ${error.message ?? error.keyword}`;
  }
}

async function loadHarborContract(source: string): Promise<HarborContract> {
  const document = parse(await readFile(source, 'utf8')) as unknown;
  if (!isObject(document) || document.swagger !== '2.0' || !isObject(document.definitions)) {
    throw new Error(`${source} is not a Swagger 2.0 document with definitions`);
  }
  const definitions: SchemaNode = {};
  for (const [name, schema] of Object.entries(document.definitions)) {
    definitions[name] = toJsonSchema(schema, `definitions.${name}`);
  }
  const names = Object.keys(definitions).sort();

  // allErrors so that one run reports every problem; strict keeps a mistranslated schema from
  // being half-ignored.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv, { mode: 'full' });
  for (const [name, check] of Object.entries(GO_NUMBER_FORMATS)) {
    ajv.addFormat(name, { type: 'number', validate: check });
  }
  for (const format of formatsUsed(document.definitions)) {
    // A format no one defines is an annotation in JSON Schema; registering it says so to strict mode.
    if (!ajv.formats[format]) ajv.addFormat(format, true);
  }
  const id = 'https://wharf.invalid/harbor-api-v2.0.json';
  ajv.addSchema({ $id: id, definitions }, id);

  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (definition: string): ValidateFunction => {
    let validator = validators.get(definition);
    if (validator === undefined) {
      if (!Object.hasOwn(definitions, definition)) {
        throw new Error(`Harbor's swagger has no definition ${JSON.stringify(definition)}`);
      }
      validator = ajv.getSchema(`${id}#/definitions/${pointerSegment(definition)}`);
      if (validator === undefined) throw new Error(`could not compile Harbor definition ${definition}`);
      validators.set(definition, validator);
    }
    return validator;
  };

  const validate = (definition: string, value: unknown): string[] => {
    const validator = validatorFor(definition);
    if (validator(value)) return [];
    const errors = validator.errors ?? [];
    // A value of the wrong type also fails its format (7.5 is no int64); the type error says it all.
    const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
    const messages = errors
      .filter((error) => !(error.keyword === 'format' && wrongType.has(error.instancePath)))
      .map((error) => describeError(error, value));
    return [...new Set(messages.filter((message): message is string => message !== undefined))];
  };

  return {
    source,
    validate,
    assertValid(definition, value) {
      const problems = validate(definition, value);
      if (problems.length > 0) {
        throw new Error(`not a valid Harbor ${definition}:\n  ${problems.join('\n  ')}`);
      }
    },
    definitionNames: () => [...names],
  };
}

let cached: Promise<HarborContract> | undefined;

/** Harbor's API contract, read once per test process. */
export function harborContract(): Promise<HarborContract> {
  if (cached === undefined) {
    const loading = Promise.resolve()
      .then(() => loadHarborContract(locateHarborSwagger()))
      .catch((error: unknown) => {
        // A failed load is not kept, so a later call can succeed once the file is in place.
        cached = undefined;
        throw error;
      });
    cached = loading;
  }
  return cached;
}
