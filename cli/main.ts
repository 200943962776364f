/**
 * The `hpc-batch` command line. Each command lives in `cli/commands/<name>.ts` and exports
 * `register(program)`; commands return their exit code instead of calling process.exit, so
 * tests can run them in-process.
 */
import { Command, CommanderError } from "commander";
import { InputError } from "../lib/errors";
import { redactSecrets } from "../lib/secretScan";
import * as localRun from "./commands/localRun";
import * as pkg from "./commands/package";
import * as plan from "./commands/plan";
import * as publish from "./commands/publish";
import * as setDefault from "./commands/setDefault";
import * as stage from "./commands/stage";
import * as verify from "./commands/verify";

/** Exit codes: 0 success, 1 the work failed, 2 bad input (flags, config, package folder). */
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

export interface CommandContext {
  /** Sets the exit code the process ends with. */
  setExitCode(code: number): void;
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command("hpc-batch")
    .description("Deploy and release HPC applications on Azure Batch (Pulumi components and tools)")
    .showHelpAfterError()
    .exitOverride();
  for (const mod of [stage, pkg, publish, plan, localRun, verify, setDefault])
    mod.register(program, ctx);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram({ setExitCode: (c) => (code = c) });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exit 0; commander already printed its message.
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    const cmd = program.args[0] ? ` ${program.args[0]}` : "";
    // Any message, not only bad input: an SDK error may quote a SAS URL or a token.
    process.stderr.write(`hpc-batch${cmd}: ${redactSecrets((err as Error).message)}\n`);
    return err instanceof InputError ? EXIT_BAD_INPUT : EXIT_FAILED;
  }
}
