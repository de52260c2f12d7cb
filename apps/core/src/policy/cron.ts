/**
 * Harbor's schedule expressions: six fields (second minute hour day-of-month month day-of-week) with the second
 * always `0`, since schedules run at most once a minute. Each other field is `*`, `?` (the day fields), or a
 * comma list of values, ranges `a-b` and steps `*\/n` or `a-b/n`; months and week days may be named (JAN, MON).
 */

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  question?: boolean;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, question: true },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], question: true },
];

function value(text: string, field: FieldSpec): number | undefined {
  if (/^[0-9]{1,2}$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : undefined;
  }
  const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
  return index < 0 ? undefined : field.min + index;
}

function fieldProblem(text: string, field: FieldSpec): string | undefined {
  if (text === '*' || (field.question && text === '?')) return undefined;
  for (const part of text.split(',')) {
    const [range = '', step, extra] = part.split('/');
    if (extra !== undefined || (step !== undefined && !/^[1-9][0-9]{0,1}$/.test(step))) {
      return `the ${field.name} field has a bad step in ${JSON.stringify(part)}`;
    }
    if (range === '*') {
      if (step === undefined) return `the ${field.name} field lists "*" with other values`;
      continue;
    }
    const [from = '', to, more] = range.split('-');
    const low = value(from, field);
    const high = to === undefined ? low : value(to, field);
    if (more !== undefined || low === undefined || high === undefined || high < low) {
      return `the ${field.name} field holds ${JSON.stringify(part)}, not a value or range from ${field.min} to ${field.max}`;
    }
  }
  return undefined;
}

/** Why the expression is not a schedule Wharf can run, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6)
    return `a schedule has 6 fields (second minute hour day month weekday), not ${fields.length}`;
  if (fields[0] !== '0') return 'the second field must be 0: schedules run at most once a minute';
  for (let i = 0; i < FIELDS.length; i++) {
    const problem = fieldProblem(fields[i + 1], FIELDS[i]);
    if (problem) return problem;
  }
  return undefined;
}
