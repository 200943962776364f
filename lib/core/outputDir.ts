/**
 * Making an output folder (a package's `out/`, a plan's folder) with a message a person can act
 * on: for a path through a symbolic link whose target is gone, `mkdir -p` says only
 * "ENOENT: mkdir '<dir>'" (how a stale `out` link in a reused checkout showed in CI).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "./errors";

/** The start of every rule below. */
export const OUTPUT_DIR_RULE = "must be a folder hpc-batch can create or write to";

/**
 * Why `dir` cannot be made, from the first of it and its parents that is in the way: a dangling
 * symbolic link, or something other than a folder. Undefined when none is (the error is another).
 */
export function outputDirObstacle(dir: string): string | undefined {
  const parts: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    parts.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parts) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return undefined; // missing from here down: mkdir makes it, so that was not the obstacle
    }
    if (st.isSymbolicLink()) {
      // The target as a path (a relative one is relative to the link's folder).
      const target = path.resolve(path.dirname(p), fs.readlinkSync(p));
      const resolved = fs.statSync(p, { throwIfNoEntry: false });
      if (!resolved) {
        const missing = fs.lstatSync(target, { throwIfNoEntry: false })
          ? "which leads, through another link, to a path that does not exist"
          : "which does not exist";
        return `${p} is a symbolic link to ${target}, ${missing} (remove the link, or create what it points to)`;
      }
      if (!resolved.isDirectory()) return `${p} is a symbolic link to ${target}, not to a folder`;
    } else if (!st.isDirectory()) {
      return `${p} is a file, not a folder`;
    }
  }
  return undefined;
}

const OBSTACLE_CODES = new Set(["ENOENT", "EEXIST", "ENOTDIR"]);

/** The InputError naming `field` and `value` for an obstacle in `dir`'s path, if there is one. */
function obstacleError(dir: string, field: string, value: unknown): InputError | undefined {
  const obstacle = outputDirObstacle(dir);
  return obstacle ? new InputError(field, value, `${OUTPUT_DIR_RULE}: ${obstacle}`) : undefined;
}

/**
 * Refuses, before any work, an output folder that cannot be made (an InputError naming `field`
 * and `value`); one that can is not made yet. Other errors (permissions) surface when it is made.
 */
export function checkOutputDir(dir: string, field: string, value: unknown): void {
  let error: InputError | undefined;
  try {
    error = obstacleError(dir, field, value);
  } catch {
    return; // unreadable (EACCES, ELOOP): making it will say so
  }
  if (error) throw error;
}

/** The InputError naming `field` when `err` came from an obstacle in `dir`'s path, else `err`. */
function explained(err: unknown, dir: string, field: string, value: unknown): unknown {
  if (!OBSTACLE_CODES.has((err as NodeJS.ErrnoException).code ?? "")) return err;
  return obstacleError(dir, field, value) ?? err;
}

/** `mkdir -p dir`; an obstacle in its path is an InputError naming `field` and `value`. */
export async function makeOutputDir(dir: string, field: string, value: unknown): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    throw explained(err, dir, field, value);
  }
}

/** The synchronous makeOutputDir. */
export function makeOutputDirSync(dir: string, field: string, value: unknown): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw explained(err, dir, field, value);
  }
}
