export interface ConfigIssue {
  /** Dotted key in harbor.yml (`external_database.harbor.port`); empty for the file as a whole. */
  path: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** Every problem found in one configuration file, each naming the key it concerns. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    const noun = issues.length === 1 ? 'problem' : 'problems';
    super(`${source}: ${issues.length} ${noun}\n${issues.map((issue) => `  - ${formatIssue(issue)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
