/**
 * `hpc-batch local-run`: builds the application package (or takes `--zip`), unpacks it on a
 * Batch-like node layout in a temporary folder and runs the smoke task there as Batch would
 * (lib/node/localNode.ts). Exit 0 when the task exits 0, 1 when it fails, 2 on bad flags.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Command } from "commander";
import { CONFIG_DEFAULTS } from "../../lib/core/defaults";
import { InputError } from "../../lib/core/errors";
import { sweepLeftovers, trackTemp, untrackTemp } from "../../lib/core/interrupt";
import type { LocalRunResult } from "../../lib/node/localNode";
import { validateApplicationId, validateApplicationVersion } from "../../lib/core/naming";
import { findProjectRoot, projectPath } from "../../lib/core/projectRoot";
import { EXIT_FAILED, type CommandContext } from "../context";

interface LocalRunFlags {
  zip?: string;
  folder?: string;
  applicationId: string;
  version?: string;
  default?: boolean;
  keep?: boolean;
  json?: boolean;
}

/** Version of a `--zip` whose file name does not tell it, when `--version` is not given. */
export const LOCAL_VERSION = "0.0.0-local";

/** local-run's temporary folders: `hpc-batch-local-run-<pid>-XXXXXX`, the pid captured. */
export const LOCAL_RUN_TEMP_RE = /^hpc-batch-local-run-(\d+)-/;

/**
 * The version to run as: `--version`; else, for `--zip`, the one in its file name
 * (`<id>-<version>.zip`, as `hpc-batch package` names it) or LOCAL_VERSION; else the version
 * `hpc-batch package` would compute for the folder (lib/package/version.ts).
 */
export async function localRunVersion(o: {
  version?: string;
  zip?: string;
  folder: string;
  applicationId: string;
}): Promise<string> {
  if (o.version !== undefined) return validateApplicationVersion("--version", o.version);
  if (o.zip !== undefined) {
    // Application ids are letters, digits, `-` and `_`: nothing to escape in the pattern.
    const m = new RegExp(`^${o.applicationId}-([A-Za-z0-9_.-]{1,64})\\.zip$`).exec(
      path.basename(o.zip),
    );
    return m ? m[1] : LOCAL_VERSION;
  }
  const { resolveApplicationVersion } = await import("../../lib/package/version");
  return (await resolveApplicationVersion({ folder: o.folder, field: "--version" })).version;
}

/** The human report; the task's stdout is indented under its heading. */
export function renderLocalRun(r: LocalRunResult, version: string, applicationId: string): string {
  const indent = (s: string) =>
    s
      .replace(/\n$/, "")
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
  const lines = [
    `local-run: ${applicationId} ${version} on a Batch-like node at ${r.layout.root}`,
    `  package: ${r.layout.packageDir}`,
    `  task dir: ${r.layout.taskDir}`,
    r.timedOut
      ? `timed out after ${(r.durationMs / 1000).toFixed(1)} s (killed)`
      : `exit code ${r.exitCode ?? `signal ${r.signal}`} after ${(r.durationMs / 1000).toFixed(1)} s`,
    `outputs in wd: ${r.outputs.length ? r.outputs.map((o) => `${o.path} (${o.bytes} bytes)`).join(", ") : "none"}`,
  ];
  if (r.stdout) lines.push("stdout.txt:", indent(r.stdout));
  lines.push(
    r.kept
      ? `kept: ${r.layout.root}`
      : "node folder removed (use --keep to inspect the task's files)",
  );
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("local-run")
    .description(
      "Run the smoke task (ffmpeg -version, then a transcode of a clip ffmpeg generates) on a Batch-like Linux node layout on this machine",
    )
    .option("--zip <file>", "package zip to run (default: build one from --folder)")
    .option(
      "--folder <dir>",
      `package folder to build the zip from (default: ${CONFIG_DEFAULTS.applicationFolder} in the project root)`,
    )
    .option("--application-id <id>", "Batch application id", CONFIG_DEFAULTS.batchApplicationId)
    .option(
      "--version <version>",
      "package version (default: computed as `hpc-batch package` does; for --zip, from its file name)",
    )
    .option(
      "--no-default",
      "do not treat the version as the application's default (by default it is, as on a deployed stack: AZ_BATCH_APP_PACKAGE_<id> is set)",
    )
    .option("--keep", "keep the node folder and print where it is")
    .option("--json", "print the result as JSON")
    .action(async (o: LocalRunFlags) => {
      const applicationId = validateApplicationId("--application-id", o.applicationId);
      if (o.version !== undefined) validateApplicationVersion("--version", o.version);
      if (o.zip !== undefined && o.folder !== undefined) {
        throw new InputError("--zip", o.zip, "cannot be combined with --folder");
      }
      if (o.zip !== undefined && !fs.statSync(o.zip, { throwIfNoEntry: false })?.isFile()) {
        throw new InputError("--zip", o.zip, "must be an existing zip file");
      }
      // With --zip no folder is needed, so no project either.
      const folder =
        o.zip === undefined ? projectPath(o.folder, CONFIG_DEFAULTS.applicationFolder) : "";
      const { runOnLocalNode } = await import("../../lib/node/localNode");
      if (o.zip !== undefined) {
        const { inspectZip } = await import("../../lib/package/zipInspect");
        // Checked here, before a node folder exists, so the message names the flag.
        await inspectZip(o.zip).catch((err: unknown) => {
          throw err instanceof InputError && err.field === "zip"
            ? new InputError("--zip", err.value, err.rule)
            : err;
        });
      }
      let zipPath: string | undefined;
      const version = await localRunVersion({ ...o, folder, applicationId });
      // Folders of runs killed outright (their process is gone); then this run's, named with its
      // pid and removed on Ctrl-C (cli/main.ts).
      sweepLeftovers(os.tmpdir(), LOCAL_RUN_TEMP_RE);
      const tmp = trackTemp(
        fs.mkdtempSync(path.join(os.tmpdir(), `hpc-batch-local-run-${process.pid}-`)),
      );
      try {
        if (o.zip === undefined) {
          const { preparePackage } = await import("../../lib/package/prepare");
          let root: string | undefined;
          try {
            root = findProjectRoot(process.cwd());
          } catch {
            root = undefined; // a folder given explicitly, outside any project
          }
          // From a folder: staged first (idempotent), as `plan` and the stack do, so a fresh
          // clone runs the real ffmpeg rather than failing on a missing binary. The version is
          // the one resolved above, before the node folder existed.
          const { built } = await preparePackage({
            folder,
            resolveFrom: [folder, root ?? process.cwd()],
            version,
            versionField: "--version",
            applicationId,
            outDir: tmp,
          });
          zipPath = built.path;
        }
        const result = await runOnLocalNode({
          zipPath: zipPath ?? (o.zip as string),
          pkg: { applicationId, version },
          isDefaultVersion: o.default !== false,
          keep: o.keep === true,
          // Inside this run's folder, so an interruption removes it too; --keep keeps it apart.
          ...(o.keep === true ? {} : { parentDir: tmp }),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else process.stdout.write(renderLocalRun(result, version, applicationId));
        if (!result.ok) {
          const how = result.timedOut
            ? "timed out"
            : `exited with ${result.exitCode ?? result.signal}`;
          process.stderr.write(
            `hpc-batch local-run: the smoke task ${how}; its stderr.txt:\n${result.stderr}`,
          );
          ctx.setExitCode(EXIT_FAILED);
        }
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
        untrackTemp(tmp);
      }
    });
}
