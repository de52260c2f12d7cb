/** Exit statuses of the wharf command. */
export const ExitCode = {
  Ok: 0,
  /** The command ran and found a problem (an invalid configuration, a failed migration, …). */
  Failure: 1,
  /** The command line itself was wrong: unknown command or option, missing argument. */
  Usage: 2,
} as const;
