/**
 * The `hpc-batch` command line. Each command lives in `cli/commands/<name>.ts` and exports
 * `register(program)`; commands return their exit code instead of calling process.exit, so
 * tests can run them in-process.
 *
 * Start-up cost: this module and the command modules load only commander and small pure modules;
 * each command loads what it uses (the Azure SDKs, the zip writer...) inside its action, so
 * `--help` and `--version` answer without loading any of it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { InputError } from "../lib/core/errors";
import { SDK_BUNDLE_FILES, useSdkBundles, type SdkBundles } from "../lib/azure/azureSdk";
import { exitOnInterrupt } from "../lib/core/interrupt";
import { EXIT_BAD_INPUT, EXIT_FAILED, type CommandContext } from "./context";

type CommandModule = { register(program: Command, ctx: CommandContext): void };

/**
 * The commands, in `--help` order, each loaded when registered: a run that names its command
 * loads only that one (the others' modules cost about 20 ms of every start).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const COMMANDS: [string, () => CommandModule][] = [
  ["stage", () => require("./commands/stage") as CommandModule],
  ["package", () => require("./commands/package") as CommandModule],
  ["publish", () => require("./commands/publish") as CommandModule],
  ["plan", () => require("./commands/plan") as CommandModule],
  ["local-run", () => require("./commands/localRun") as CommandModule],
  ["verify", () => require("./commands/verify") as CommandModule],
  ["set-default", () => require("./commands/setDefault") as CommandModule],
];
/* eslint-enable @typescript-eslint/no-require-imports */

/** An error's message for the terminal: a raw socket error names its endpoint, secrets redacted. */
function shown(err: unknown, message: string): string {
  /* eslint-disable @typescript-eslint/no-require-imports */
  // Loaded only on failure.
  const { describeNetworkError } =
    require("../lib/core/networkError") as typeof import("../lib/core/networkError");
  const { redactSecrets } =
    require("../lib/core/secretScan") as typeof import("../lib/core/secretScan");
  /* eslint-enable @typescript-eslint/no-require-imports */
  // A raw socket error from an SDK (it carries a code) says which endpoint and why.
  const network =
    typeof (err as { code?: unknown } | null)?.code === "string"
      ? describeNetworkError(err)
      : undefined;
  // Any message, not only bad input: an SDK error may quote a SAS URL or a token.
  return redactSecrets(network ?? message);
}

export { EXIT_BAD_INPUT, EXIT_FAILED, type CommandContext } from "./context";

/** hpc-batch's own version: the `version` of the package.json above this module (cli/ or dist/cli/). */
export function cliVersion(from: string = __dirname): string {
  for (let dir = from; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const meta = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (meta.name === "hpc-batch" && meta.version) return meta.version;
  }
  return "unknown";
}

/**
 * The program with every command, or only `only` (a command name) when given: parsing a run of
 * that command needs no other.
 */
export function buildProgram(ctx: CommandContext, only?: string): Command {
  const program = new Command("hpc-batch")
    .description("Deploy and release HPC applications on Azure Batch (Pulumi components and tools)")
    .version(cliVersion(), "-V, --version", "print hpc-batch's version")
    // Program options only before the command: `package --version 1.2.0` is the package's.
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  for (const [name, load] of COMMANDS)
    if (only === undefined || only === name) load().register(program, ctx);
  return program;
}

/** The command named in `argv` (as process.argv), for messages; undefined before one is named. */
export function commandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith("-"));
}

/** Runs the CLI with `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const named = commandOf(argv);
  const program = buildProgram(
    { setExitCode: (c) => (code = c) },
    COMMANDS.some(([name]) => name === named) ? named : undefined,
  );
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exit 0; commander already printed its message.
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    const cmd = program.args[0] ? ` ${program.args[0]}` : "";
    process.stderr.write(`hpc-batch${cmd}: ${shown(err, (err as Error).message)}\n`);
    return err instanceof InputError ? EXIT_BAD_INPUT : EXIT_FAILED;
  }
}

/**
 * The Azure SDK bundles `npm run build` writes beside the compiled CLI (`<dist>/vendor/`, for
 * `<dist>/cli/main.js`) that are there: without one (esbuild missing at build time) the CLI
 * loads that SDK's packages, as everything else does.
 */
export function sdkBundles(cliDir: string): SdkBundles {
  const found: SdkBundles = {};
  for (const [name, file] of Object.entries(SDK_BUNDLE_FILES)) {
    const full = path.join(cliDir, "..", "vendor", file);
    if (fs.existsSync(full)) found[name as keyof SdkBundles] = full;
  }
  return found;
}

/**
 * The process entry point (bin/hpc-batch.js): runs `main`, sets the exit code, and ends a run
 * interrupted by SIGINT or SIGTERM with one line and exit 130, its temporary files removed.
 */
export function run(argv: string[]): Promise<void> {
  exitOnInterrupt(() => commandOf(argv));
  useSdkBundles(sdkBundles(__dirname));
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `hpc-batch: ${shown(undefined, String((err as Error)?.message ?? err))}\n`,
      );
      process.exitCode = EXIT_FAILED;
    },
  );
}
