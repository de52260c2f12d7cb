export { ExitCode } from './exit-codes.js';
export { createProgram } from './program.js';
