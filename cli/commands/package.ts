/**
 * `hpc-batch package`: zips the package folder into `<out>/<application-id>-<version>.zip`
 * (reproducible, no root folder, modes kept) and prints what it built. Bad input (folder, id,
 * version) exits 2 before anything is written.
 */
import type { Command } from "commander";
import { InputError } from "../../lib/errors";
import { validateApplicationId } from "../../lib/naming";
import { resolveApplicationVersion } from "../../lib/version";
import { buildPackage } from "../../lib/zip";
import type { CommandContext } from "../main";

interface PackageFlags {
  folder: string;
  out: string;
  applicationId: string;
  version?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("package")
    .description("Zip the package folder into <out>/<application-id>-<version>.zip, reproducibly")
    .option(
      "--folder <dir>",
      "package folder; its contents become the zip's root",
      "hpc-application",
    )
    .option("--out <dir>", "where the zip goes", "out")
    .option(
      "--application-id <id>",
      "Batch application id (1 to 64 letters, digits, '-', '_')",
      "ffmpeg",
    )
    .option(
      "--version <version>",
      "package version (as hpc-batch:batchApplicationVersion); default: computed from conventional commits touching the folder since the last app-v* tag",
    )
    .option("--json", 'print only {"path","sha256","bytes","version","applicationId"}')
    .action(async (flags: PackageFlags) => {
      const applicationId = validateApplicationId("--application-id", flags.applicationId);
      const resolved = await resolveApplicationVersion({
        folder: flags.folder,
        configured: flags.version,
        field: "--version",
      });
      const info = await buildPackage({
        folder: flags.folder,
        outDir: flags.out,
        applicationId,
        version: resolved.version,
      }).catch((err: unknown) => {
        throw err instanceof InputError && err.field === "outDir"
          ? new InputError("--out", err.value, err.rule)
          : err;
      });
      if (resolved.dirty) {
        process.stderr.write(
          `hpc-batch package: warning: ${flags.folder} has uncommitted changes; version ${resolved.version} describes its last commit\n`,
        );
      }
      if (flags.json) {
        const { path, sha256, bytes, version } = info;
        process.stdout.write(
          `${JSON.stringify({ path, sha256, bytes, version, applicationId })}\n`,
        );
      } else {
        const from =
          resolved.source === "config"
            ? "--version"
            : `${resolved.commits} commit(s) since ${resolved.tag ?? "the start (no app-v* tag yet)"}`;
        process.stdout.write(
          [
            `built ${info.path}`,
            `  application  ${applicationId}`,
            `  version      ${info.version} (from ${from})`,
            `  files        ${info.files}`,
            `  bytes        ${info.bytes}`,
            `  sha256       ${info.sha256}`,
            "",
          ].join("\n"),
        );
      }
      ctx.setExitCode(0);
    });
}
