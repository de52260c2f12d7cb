/**
 * Scopes of the Docker token protocol, as clients send them to the token service
 * (`GET /service/token?service=…&scope=repository:library/nginx:pull,push&scope=…`).
 *
 *   scope         := resourcescope [ ' ' resourcescope ]*
 *   resourcescope := resourcetype ':' resourcename ':' action [ ',' action ]*
 *   resourcetype  := /[a-z0-9]+/ [ '(' /[a-z0-9]+/ ')' ]
 *
 * The resource name may itself contain ':' (a registry host with a port, `localhost:5000/library/app`), so the type
 * ends at the first ':' and the actions begin after the last one.
 */

export interface Scope {
  /** `repository`, `registry`, … */
  type: string;
  /** The optional class in `repository(plugin)`. */
  class?: string;
  name: string;
  /** Deduplicated, in the order first requested; empty when the client asked for no action. */
  actions: string[];
}

export interface ScopeParseResult {
  scopes: Scope[];
  /** Scopes that do not follow the grammar, verbatim, for the caller to log. They grant nothing. */
  invalid: string[];
}

const TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const ACTION = /^(?:\*|[a-z][a-z0-9_-]*)$/;
const NAME_MAX = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function parseOne(text: string): Scope | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = TYPE.exec(text.slice(0, first));
  const name = text.slice(first + 1, last);
  if (!type || name.length === 0 || name.length > NAME_MAX || CONTROL.test(name)) return undefined;
  const actions = text
    .slice(last + 1)
    .split(',')
    .filter((action) => action !== '');
  if (!actions.every((action) => ACTION.test(action))) return undefined;
  const scope: Scope = { type: type[1], name, actions: [...new Set(actions)] };
  if (type[2] !== undefined) scope.class = type[2];
  return scope;
}

/**
 * Every scope in the `scope` query values, each value possibly holding several separated by spaces. Scopes for the
 * same type and name are merged into one with the union of their actions. Malformed scopes are set aside in
 * `invalid`, not fatal: Distribution's and Harbor's token services ignore them too.
 */
export function parseScopes(values: readonly string[]): ScopeParseResult {
  const merged = new Map<string, Scope>();
  const invalid: string[] = [];
  for (const value of values) {
    if (typeof value !== 'string') continue;
    for (const text of value.split(/[ \t]+/)) {
      if (text === '') continue;
      const scope = parseOne(text);
      if (!scope) {
        invalid.push(text);
        continue;
      }
      const key = `${scope.type}\u0000${scope.name}`;
      const existing = merged.get(key);
      if (!existing) {
        merged.set(key, scope);
        continue;
      }
      for (const action of scope.actions) if (!existing.actions.includes(action)) existing.actions.push(action);
      if (existing.class === undefined && scope.class !== undefined) existing.class = scope.class;
    }
  }
  return { scopes: [...merged.values()], invalid };
}

/** The scope string for one scope, as in a `WWW-Authenticate` challenge. */
export function formatTokenScope(scope: Pick<Scope, 'type' | 'class' | 'name' | 'actions'>): string {
  const type = scope.class === undefined ? scope.type : `${scope.type}(${scope.class})`;
  return `${type}:${scope.name}:${scope.actions.join(',')}`;
}
