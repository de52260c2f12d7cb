import { CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed the problem (or the help/version it was asked for).
    process.exitCode = error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  } else {
    console.error(`wharf: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = ExitCode.Failure;
  }
}
