import { QuerySyntaxError } from './query.error.js';
import { type SortTerm } from './query.parser.js';

/**
 * Builds the expression list of an ORDER BY clause (without the keywords) from parsed `sort` terms.
 * `sortable` maps each key users may sort by to its SQL expression. `fallback` is the order when
 * no key is given, and is appended after the requested keys so that rows that tie keep one order
 * from page to page.
 */
export function buildOrderBy(
  sortTerms: readonly SortTerm[],
  sortable: Record<string, string>,
  fallback: string,
): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const { key, descending } of sortTerms) {
    if (!Object.hasOwn(sortable, key)) {
      const valid = Object.keys(sortable).sort();
      const hint = valid.length === 0 ? 'this list cannot be sorted' : `sortable keys are ${valid.join(', ')}`;
      throw new QuerySyntaxError('sort', `unknown key ${JSON.stringify(key)}; ${hint}`);
    }
    // The first mention of a key decides its direction; a later one could never take effect.
    if (seen.has(key)) continue;
    seen.add(key);
    parts.push(`${sortable[key]} ${descending ? 'DESC' : 'ASC'}`);
  }
  parts.push(fallback);
  return parts.join(', ');
}
