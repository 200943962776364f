/**
 * The one way through the package: stage the binaries its stage.json declares, resolve its
 * version, build its zip. The program (index.ts), `hpc-batch plan`, `local-run` and `package` all
 * go through here; what differs between them (how messages name the folder and the version,
 * whether to stage, a plan's stand-in version, a changed zip refused or replaced) are options.
 */
import { InputError } from "../core/errors";
import { pausePoint } from "../core/interrupt";
import type { PackageInfo } from "../core/packageFile";
import { stageFolder, type StagedFile } from "./stage";
import { DEFAULT_VERSION_FIELD, resolveApplicationVersion, type ResolvedVersion } from "./version";
import { buildPackage, type GrowingZip, type PackageProgress } from "./zip";

export interface PreparePackageOptions {
  /** The package folder; its contents become the zip's root. Required. */
  folder: string;
  /** The folder as the build's messages name it (as typed on a command line). Defaults to `folder`. */
  shownFolder?: string;
  /** Names the folder in messages: the flag or config key it came from. Defaults to "package folder". */
  folderField?: string;
  /** Folders to look for `node_modules` above, to stage and to say how to stage. Defaults to `[folder]`. */
  resolveFrom?: string[];
  /** Stage the files stage.json declares first (idempotent). Defaults to true; false builds what the folder holds. */
  stage?: boolean;
  /** The version from config or a flag. Unset: computed from the folder's git history (lib/package/version). */
  version?: string;
  /** Names the version in messages: the config key or flag. Defaults to "hpc-batch:batchApplicationVersion". */
  versionField?: string;
  /**
   * The version to go on with when the history cannot give one (no git, a shallow clone without
   * the release tag). Unset: that InputError, which asks for the version. Only a preview sets it.
   */
  unversioned?: string;
  /** Batch application id. Required; 1 to 64 letters, digits, `-`, `_`. */
  applicationId: string;
  /** Where the zip goes (created if missing); must not be inside the folder. Required. */
  outDir: string;
  /** Names `outDir` in messages: the flag or folder it came from. Default "outDir". */
  outDirField?: string;
  /**
   * A zip of the same version with other content already built: "replace" it (the default) or
   * "refuse" (PackageChangedError, nothing written). A version computed with uncommitted changes
   * is provisional and never claims its content: its zip is replaced even with "refuse".
   */
  ifChanged?: "replace" | "refuse";
  /** Called as file content is read for the zip. */
  onProgress?: (progress: PackageProgress) => void;
  /** Called once the zip starts being written, to follow it (lib/package/zip BuildPackageOptions). */
  follow?: (zip: GrowingZip) => void;
  /** Called with the version once it is resolved, before the zip is built; a throw stops the build. */
  onVersion?: (resolved: ResolvedVersion) => void;
}

export interface PreparedPackage {
  /** What staging did, one entry per file stage.json declares (none when `stage` is false). */
  staged: StagedFile[];
  /** The version and where it came from; `fallback` (the reason) when `unversioned` stood in. */
  resolved: ResolvedVersion & { fallback?: string };
  /** The zip built (or reused). */
  built: PackageInfo;
}

/**
 * Stages, versions and builds the package, in that order, each step's failure an InputError
 * naming the field (see PreparePackageOptions), before the next step runs.
 */
export async function preparePackage(opts: PreparePackageOptions): Promise<PreparedPackage> {
  const { folder, folderField, resolveFrom } = opts;
  const staged =
    opts.stage === false ? [] : await stageFolder({ folder, resolveFrom, folderField });
  const resolved = await resolveVersion(opts);
  opts.onVersion?.(resolved);
  await pausePoint("package:start");
  const built = await buildPackage({
    folder: opts.shownFolder ?? folder,
    outDir: opts.outDir,
    outDirField: opts.outDirField,
    applicationId: opts.applicationId,
    version: resolved.version,
    ifChanged: opts.ifChanged === "refuse" && !resolved.dirty ? "refuse" : "replace",
    folderField,
    resolveFrom,
    onProgress: opts.onProgress,
    follow: opts.follow,
  });
  return { staged, resolved, built };
}

async function resolveVersion(
  opts: PreparePackageOptions,
): Promise<ResolvedVersion & { fallback?: string }> {
  const field = opts.versionField ?? DEFAULT_VERSION_FIELD;
  try {
    return await resolveApplicationVersion({
      folder: opts.folder,
      configured: opts.version,
      field,
    });
  } catch (err) {
    // Reading the history fails naming the version's field ("must be set") when it cannot give
    // a version; a bad folder names the folder, and a configured version is never stood in for.
    const noHistory =
      opts.version === undefined && err instanceof InputError && err.field === field;
    if (opts.unversioned === undefined || !noHistory) throw err;
    return {
      version: opts.unversioned,
      source: "git",
      tag: null,
      commits: 0,
      dirty: false,
      fallback: (err as InputError).rule,
    };
  }
}
