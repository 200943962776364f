/**
 * Finds the project the way git finds its repository: from a folder, walk up to the first folder
 * holding both Pulumi.yaml and package.json. Commands resolve their default paths (the package
 * folder, `out/`, the Pulumi CLI's working folder) against it, so they work from any subfolder.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "./errors";

/** The files that mark the project root; both must be there. */
export const PROJECT_MARKERS = ["Pulumi.yaml", "package.json"] as const;

/** The nearest folder at or above `start` holding Pulumi.yaml and package.json. */
export function findProjectRoot(start: string): string {
  const from = path.resolve(start);
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (
      PROJECT_MARKERS.every((m) =>
        fs.statSync(path.join(dir, m), { throwIfNoEntry: false })?.isFile(),
      )
    )
      return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new InputError(
    "working directory",
    from,
    "must be inside an hpc-batch project: no folder at or above it holds both Pulumi.yaml and package.json (cd into the project, or give the paths explicitly)",
  );
}

/**
 * A path a command takes: one given on the command line is relative to the working directory (as
 * the user typed it); the default is relative to the project root, wherever the command runs.
 */
export function projectPath(
  given: string | undefined,
  defaultInProject: string,
  cwd: string = process.cwd(),
): string {
  return given !== undefined
    ? path.resolve(cwd, given)
    : path.join(findProjectRoot(cwd), defaultInProject);
}
