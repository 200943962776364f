/**
 * `hpc-batch package`: zips the package folder into `<out>/<application-id>-<version>.zip`
 * (reproducible, no root folder, modes kept) and prints what it built. Bad input (folder, id,
 * version), a folder missing a file its stage.json declares, or a zip of the same version with
 * other content already built, exits 2 before anything is written. The folder and `out/` default
 * to the project root's (found from any subfolder).
 */
import * as path from "node:path";
import type { Command } from "commander";
import { CONFIG_DEFAULTS } from "../../lib/core/defaults";
import { InputError } from "../../lib/core/errors";
import { validateApplicationId, validateApplicationVersion } from "../../lib/core/naming";
import { checkOutputDir } from "../../lib/core/outputDir";
import { findProjectRoot, projectPath } from "../../lib/core/projectRoot";
import type { PackageInfo } from "../../lib/core/packageFile";
import type { ResolvedVersion } from "../../lib/package/version";
import type { GrowingZip } from "../../lib/package/zip";
import type { CommandContext } from "../context";

interface PackageFlags {
  folder?: string;
  out?: string;
  applicationId: string;
  version?: string;
  replace?: boolean;
  json?: boolean;
}

/** Where `package` writes by default, relative to the project root. */
export const DEFAULT_OUT_DIR = "out";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("package")
    .description("Zip the package folder into <out>/<application-id>-<version>.zip, reproducibly")
    .option(
      "--folder <dir>",
      `package folder; its contents become the zip's root (default: ${CONFIG_DEFAULTS.applicationFolder} in the project root)`,
    )
    .option("--out <dir>", `where the zip goes (default: ${DEFAULT_OUT_DIR} in the project root)`)
    .option(
      "--application-id <id>",
      "Batch application id (1 to 64 letters, digits, '-', '_')",
      "ffmpeg",
    )
    .option(
      "--version <version>",
      "package version (as hpc-batch:batchApplicationVersion); default: computed from conventional commits touching the folder since the last app-v* tag",
    )
    .option(
      "--replace",
      "overwrite a zip of the same version built from other content (a version published once keeps its content: build another version instead)",
    )
    .option("--json", 'print only {"path","sha256","bytes","version","applicationId"}')
    .action(async (flags: PackageFlags) => {
      const applicationId = validateApplicationId("--application-id", flags.applicationId);
      if (flags.version !== undefined) validateApplicationVersion("--version", flags.version);
      const { resolved, info } = await buildFromFolder({
        command: "package",
        folder: flags.folder,
        out: flags.out,
        applicationId,
        version: flags.version,
        replace: flags.replace === true,
      });
      if (flags.json) {
        const { path: zip, sha256, bytes, version } = info;
        process.stdout.write(
          `${JSON.stringify({ path: zip, sha256, bytes, version, applicationId })}\n`,
        );
      } else {
        process.stdout.write(
          [
            `built ${info.path}`,
            `  application  ${applicationId}`,
            `  version      ${info.version} (from ${versionSource(resolved)})`,
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

/** Where a package's version came from, for messages. */
export function versionSource(resolved: ResolvedVersion): string {
  return resolved.source === "config"
    ? "--version"
    : `${resolved.commits} commit(s) since ${resolved.tag ?? "the start (no app-v* tag yet)"}`;
}

export interface FolderBuildOptions {
  /** The command, for its warnings (`hpc-batch <command>: warning: ...`). */
  command: string;
  /** `--folder` as given; unset: the project root's package folder. */
  folder?: string;
  /** `--out` as given; unset: `out/` in the project root. */
  out?: string;
  /** Checked already. */
  applicationId: string;
  /** `--version` as given (checked already); unset: computed from the folder's history. */
  version?: string;
  /** `--replace`: overwrite a zip of the same version built from other content. */
  replace: boolean;
  /** Called with the version once it is resolved, before the zip is built; a throw stops the build. */
  onVersion?: (resolved: ResolvedVersion) => void;
  /** Called once the zip starts being written, to follow it (lib/package/zip). */
  follow?: (zip: GrowingZip) => void;
}

/**
 * Builds (or reuses) the zip of a package folder as `package` does, for `package` and
 * `publish --folder`: the folder and `out/` from the project root, a changed zip under the same
 * version refused (an InputError naming --version), the warnings on stderr.
 */
export async function buildFromFolder(
  opts: FolderBuildOptions,
): Promise<{ resolved: ResolvedVersion; info: PackageInfo }> {
  const root = safeRoot();
  const folder = projectPath(opts.folder, CONFIG_DEFAULTS.applicationFolder);
  // Outside any project (a folder given explicitly), the zip goes where it always did.
  const outDir =
    opts.out !== undefined || root === undefined
      ? path.resolve(opts.out ?? DEFAULT_OUT_DIR)
      : path.join(root, DEFAULT_OUT_DIR);
  // A problem with it is the flag's when given, else the folder's (the user never named it).
  const outField =
    opts.out !== undefined
      ? { field: "--out", value: opts.out }
      : {
          field: root === undefined ? "the out/ folder" : "the project's out/ folder",
          value: outDir,
        };
  // Before anything else (for publish --folder: before the credential chain and any request).
  checkOutputDir(outDir, outField.field, outField.value);
  // As typed, or relative to the working directory when defaulted.
  const shown = opts.folder ?? (path.relative(process.cwd(), folder) || ".");
  const { preparePackage } = await import("../../lib/package/prepare");
  const { PackageChangedError } = await import("../../lib/package/zip");
  const { resolved, built: info } = await preparePackage({
    folder,
    shownFolder: shown,
    // What the folder holds, as it is: `hpc-batch stage` stages.
    stage: false,
    version: opts.version,
    versionField: "--version",
    applicationId: opts.applicationId,
    // As typed when given (resolved where it is used), so that a message shows what the user
    // wrote, under the name they know it by.
    outDir: outField.value,
    outDirField: outField.field,
    // A version claims its content: another zip under it is refused, unless uncommitted
    // changes make the version provisional (then replaced, with the warning below).
    ifChanged: opts.replace ? "replace" : "refuse",
    // node_modules above the folder, then above the project (a folder outside it).
    resolveFrom: [folder, root ?? process.cwd()],
    onVersion: opts.onVersion,
    follow: opts.follow,
  }).catch((err: unknown) => {
    if (err instanceof PackageChangedError) {
      const how =
        opts.version !== undefined
          ? "pass another --version"
          : "commit the change that made it differ so the computed version moves, or pass --version";
      throw new InputError(
        "--version",
        err.version,
        `${err.path} already holds version ${err.version} with other content (sha256 ${err.previousSha256.slice(0, 12)}..., now ${err.sha256.slice(0, 12)}...); a version keeps its content once published (Batch never replaces an active version): ${how}, or ${opts.command === "package" ? "--replace" : "hpc-batch package --replace"} to overwrite the local zip`,
      );
    }
    throw err;
  });
  if (resolved.dirty) {
    process.stderr.write(
      `hpc-batch ${opts.command}: warning: ${shown} has uncommitted changes; version ${resolved.version} describes its last commit\n`,
    );
  }
  if (info.replaced) {
    process.stderr.write(
      `hpc-batch ${opts.command}: warning: replaced ${info.path} (version ${info.version}, sha256 ${info.replaced.sha256.slice(0, 12)}...) with other content (sha256 ${info.sha256.slice(0, 12)}...); never publish both under one version\n`,
    );
  }
  return { resolved, info };
}

/** The project root, or undefined outside a project (a folder given explicitly needs none). */
function safeRoot(): string | undefined {
  try {
    return findProjectRoot(process.cwd());
  } catch {
    return undefined;
  }
}
