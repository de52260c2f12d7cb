/**
 * Harbor's selectors: the `doublestar` patterns that tag retention and tag immutability rules use to pick
 * repositories and tags. A pattern is matched against a whole name:
 *
 * - `*` matches any run of characters except `/`; `?` matches one character except `/`;
 * - `**` as a whole path element matches any number of elements, none included (`a/**` matches `a` and `a/b/c`);
 * - `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) match one character of (or not of) a class;
 * - `{x,y}` matches one of the alternatives, which may hold patterns themselves;
 * - `\` makes the next character literal.
 *
 * A repository is named without its project (`library/nginx` is matched as `nginx`), as Harbor does.
 */

export type SelectorDecoration = 'matches' | 'excludes' | 'repoMatches' | 'repoExcludes';

export interface Selector {
  kind: 'doublestar';
  decoration: SelectorDecoration;
  pattern: string;
}

export class SelectorPatternError extends Error {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

const MAX_PATTERN_LENGTH = 1024;
const MAX_BRACE_DEPTH = 10;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** Translates a doublestar pattern into the source of an anchored regular expression. */
function translate(pattern: string): string {
  let i = 0;
  let depth = 0;
  const fail = (reason: string): never => {
    throw new SelectorPatternError(pattern, reason);
  };

  const element = (stopAt: ReadonlySet<string>): string => {
    let out = '';
    while (i < pattern.length) {
      const c = pattern[i];
      if (stopAt.has(c)) return out;
      if (c === '\\') {
        if (i + 1 >= pattern.length) fail('it ends with an escape character');
        out += escapeRegExp(pattern[i + 1]);
        i += 2;
      } else if (c === '*') {
        const atStart = i === 0 || pattern[i - 1] === '/';
        let stars = 0;
        while (pattern[i] === '*') {
          stars++;
          i++;
        }
        const atEnd = i >= pattern.length || pattern[i] === '/' || stopAt.has(pattern[i]);
        if (stars >= 2 && atStart && atEnd) {
          if (pattern[i] === '/') {
            // `**/` matches nothing or any run of elements ending with a separator.
            i++;
            out += '(?:[^/]*(?:/[^/]*)*/)?';
          } else if (out.endsWith('/')) {
            // A trailing `/**` also matches the directory itself.
            out = `${out.slice(0, -1)}(?:/.*)?`;
          } else {
            out += '.*';
          }
        } else {
          out += '[^/]*';
        }
      } else if (c === '?') {
        out += '[^/]';
        i++;
      } else if (c === '[') {
        out += characterClass();
      } else if (c === '{') {
        if (++depth > MAX_BRACE_DEPTH) fail(`more than ${MAX_BRACE_DEPTH} nested alternatives`);
        i++;
        const alternatives: string[] = [];
        for (;;) {
          alternatives.push(element(new Set([',', '}'])));
          if (i >= pattern.length) fail('an alternative list `{` is not closed');
          const end = pattern[i++];
          if (end === '}') break;
        }
        depth--;
        out += `(?:${alternatives.join('|')})`;
      } else {
        out += escapeRegExp(c);
        i++;
      }
    }
    return out;
  };

  const characterClass = (): string => {
    i++;
    let negate = false;
    if (pattern[i] === '!' || pattern[i] === '^') {
      negate = true;
      i++;
    }
    let body = '';
    let first = true;
    while (i < pattern.length && (pattern[i] !== ']' || first)) {
      let c = pattern[i];
      if (c === '\\') {
        if (i + 1 >= pattern.length) fail('it ends with an escape character');
        c = pattern[++i]!;
      }
      if (c === '/') fail('a character class cannot hold `/`');
      body += c === '-' && !first && pattern[i + 1] !== ']' ? '-' : escapeRegExp(c);
      first = false;
      i++;
    }
    if (i >= pattern.length) fail('a character class `[` is not closed');
    i++;
    return negate ? `(?!/)[^${body}]` : `[${body}]`;
  };

  const source = element(new Set());
  return source;
}

const compiled = new Map<string, RegExp>();
const MAX_COMPILED = 1000;

/** The regular expression of a doublestar pattern; throws SelectorPatternError when the pattern is malformed. */
export function compilePattern(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (regex) return regex;
  if (pattern.length === 0) throw new SelectorPatternError(pattern, 'it is empty');
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new SelectorPatternError(pattern.slice(0, 40), `longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  regex = new RegExp(`^(?:${translate(pattern)})$`, 's');
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

/** Whether `name` matches the doublestar `pattern` as a whole. */
export function matchesPattern(pattern: string, name: string): boolean {
  return compilePattern(pattern).test(name);
}

/** Whether `name` passes the selector: it matches the pattern for `matches`, and does not for `excludes`. */
export function selects(selector: Selector, name: string): boolean {
  const matched = matchesPattern(selector.pattern, name);
  return selector.decoration === 'matches' || selector.decoration === 'repoMatches' ? matched : !matched;
}

/** Throws SelectorPatternError unless every selector's pattern compiles. */
export function validateSelectors(selectors: readonly Selector[]): void {
  for (const selector of selectors) compilePattern(selector.pattern);
}

/** A repository's name as selectors see it: without its project. */
export function repositoryNameInProject(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? repository : repository.slice(slash + 1);
}
