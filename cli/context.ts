/**
 * What a command needs from the CLI around it: the exit codes and the context `main` passes to
 * each command's `register`. Commands import this module, never `main` (which imports them).
 */

/** Exit codes: 0 success, 1 the work failed, 2 bad input (flags, config, package folder). */
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

export interface CommandContext {
  /** Sets the exit code the process ends with. */
  setExitCode(code: number): void;
}
