/**
 * Staging: copies the binaries a package folder takes from npm packages (its `stage.json`) into
 * the folder, so they are never committed. Idempotent: a file already identical is left alone
 * (its mode fixed if needed); a changed one is replaced atomically (copy to a temporary file, then
 * rename).
 *
 * `stage.json` (docs/packaging.md):
 *   { "files": [ { "from": "@ffmpeg-installer/linux-x64/ffmpeg", "version": "4.1.0",
 *                  "to": "bin/ffmpeg", "mode": "0755" } ] }
 * - `from`: `<npm package>/<path inside it>`, found in the `node_modules` folders above the
 *   package folder (or above the `resolveFrom` folders given).
 * - `version` (optional): the installed package's exact version. Pinning it here means that
 *   upgrading the binary is a commit under the package folder, which bumps the package version.
 * - `to`: relative path inside the package folder.
 * - `mode` (optional): octal string, default the source's permission bits.
 * `"required": ["bin/transcode.sh"]` (optional) lists files the folder ships itself and the
 * package must hold. No `stage.json`, or an empty `files`, stages nothing: the folder ships as it
 * is. `buildPackage` refuses a folder missing a staged file or a required one
 * (`missingDeclaredFiles`), so a package never ships without its binary.
 *
 * Stage records: comparing a staged file with its source reads both (2 x 68 MB for ffmpeg), and a
 * plan stages twice (its own preparation, then the program's). After a comparison finds them
 * identical, a record of both files' stat (device, inode, size, mtime and ctime in ns, path) is
 * kept in `<node_modules>/.cache/hpc-batch/stage/` of the node_modules the source is in (not in
 * the package folder, where it would be zipped); while both stats still match it, the files are
 * taken as identical without reading them. What that trusts is the kernel's ctime: writing,
 * truncating, renaming a file into place and setting its mtime (how an mtime is restored, `touch
 * -d`, utimes) all set a file's ctime to the current time, and no call sets it to a chosen value.
 * So a same-size change with its mtime restored is still compared, as is anything npm or git
 * rewrites (new inode or times). A record is written only when both ctimes are at least `RACY_NS` old, so
 * that a change in the same clock tick as the stat (timestamps are coarse) cannot hide behind it.
 * Not covered: a system clock set back, a filesystem without a real ctime or with a server clock
 * far off (some network filesystems), writes to the raw device. Any mismatch, missing or
 * unreadable record means the content comparison, as without records.
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { InputError } from "../core/errors";
import { sha256File } from "../core/fileDigest";
import { pausePoint, sweepLeftovers, trackTemp, untrackTemp } from "../core/interrupt";
import { checkPackageFolder } from "./packageFolder";

export const STAGE_MANIFEST = "stage.json";

export interface StageFile {
  /** `<npm package>/<path inside it>`, e.g. `@ffmpeg-installer/linux-x64/ffmpeg`. */
  from: string;
  /** Required exact version of the installed npm package. */
  version?: string;
  /** Destination, relative to the package folder. */
  to: string;
  /** Permission bits to set; unset keeps the source's. */
  mode?: number;
}

export interface StageManifest {
  files: StageFile[];
  /** Files the folder holds itself (not staged) that the package must hold. */
  required: string[];
}

export type StageAction = "copied" | "unchanged" | "mode-set";

export interface StagedFile {
  /** Destination relative to the package folder. */
  to: string;
  /** The manifest's `from`. */
  from: string;
  /** Absolute path of the file copied from. */
  source: string;
  action: StageAction;
  /** Permission bits of the staged file. */
  mode: number;
  bytes: number;
}

export interface StageOptions {
  /** The package folder holding `stage.json`. */
  folder: string;
  /** Folders to look for `node_modules` above; default the package folder. */
  resolveFrom?: string[];
  /** Names the folder in messages: the flag or config key it came from. Default "package folder". */
  folderField?: string;
  /** The current time in ns since the epoch, for stage records. Default the system clock. */
  now?: () => bigint;
}

/** Where stage records are kept, under the node_modules folder the source was found in. */
export const STAGE_RECORD_DIR = path.join(".cache", "hpc-batch", "stage");

const STAGE_RECORD_FORMAT = "hpc-batch-stage/1";

/**
 * How old both files' ctimes must be for a record: a change made after a stat can carry the same
 * timestamps only within one timestamp tick (a few ms on Linux; 1 s or 2 s on some filesystems).
 */
export const RACY_NS = 2_000_000_000n;

interface StageRecord {
  format: string;
  /** `fileSignature` of the source and of the staged file when they were found identical. */
  source: string;
  dest: string;
  /** The staged file's path (records of destinations that are gone are dropped). */
  destPath: string;
}

/** The record file for staged file `dest` (one per destination). */
export function stageRecordPath(nodeModules: string, dest: string): string {
  const id = createHash("sha256").update(path.resolve(dest)).digest("hex").slice(0, 32);
  return path.join(nodeModules, STAGE_RECORD_DIR, `${id}.json`);
}

/** What a record holds of one file: anything that changes with its content, and its path. */
function fileSignature(file: string, st: BigIntStats): string {
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, path.resolve(file)].join(":");
}

async function readStageRecord(recordPath: string): Promise<StageRecord | null> {
  try {
    const record = JSON.parse(await fs.readFile(recordPath, "utf8")) as StageRecord;
    return record.format === STAGE_RECORD_FORMAT ? record : null;
  } catch {
    return null; // none, or unreadable: compare the content
  }
}

/** The record files left by a run that was killed while writing one: `<id>.json.<pid>.partial`. */
const RECORD_PARTIAL_RE = /^[0-9a-f]{32}\.json\.(\d+)\.partial$/;

/**
 * Writes (`record`) or removes (null) the stage record. Best effort: without a record the next
 * run compares the content. Writing also drops the records of destinations that are gone.
 */
async function updateStageRecord(recordPath: string, record: StageRecord | null): Promise<void> {
  if (record === null) {
    await fs.rm(recordPath, { force: true }).catch(() => undefined);
    return;
  }
  const dir = path.dirname(recordPath);
  const tmp = trackTemp(`${recordPath}.${process.pid}.partial`);
  try {
    await fs.mkdir(dir, { recursive: true });
    sweepLeftovers(dir, RECORD_PARTIAL_RE);
    for (const name of await fs.readdir(dir)) {
      if (!/^[0-9a-f]{32}\.json$/.test(name) || path.join(dir, name) === recordPath) continue;
      const other = await readStageRecord(path.join(dir, name));
      if (other && !(await fs.lstat(other.destPath).catch(() => null))) {
        await fs.rm(path.join(dir, name), { force: true });
      }
    }
    await fs.writeFile(tmp, JSON.stringify(record));
    await fs.rename(tmp, recordPath);
  } catch {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  } finally {
    untrackTemp(tmp);
  }
}

/** Splits `from` into the npm package name and the path inside it; null if malformed. */
export function splitNpmPath(from: string): { pkg: string; inner: string } | null {
  const parts = from.split("/");
  const nameParts = from.startsWith("@") ? 2 : 1;
  if (parts.length <= nameParts || parts.some((p) => p === "" || p === "." || p === ".."))
    return null;
  return { pkg: parts.slice(0, nameParts).join("/"), inner: parts.slice(nameParts).join("/") };
}

function isSafeRelative(p: string): boolean {
  if (p === "" || p.includes("\\") || path.posix.isAbsolute(p)) return false;
  return p.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/** Parses and checks `stage.json` text. Pure; `field` names the file in messages. */
export function parseStageManifest(text: string, field: string): StageManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(field, text.slice(0, 40), `must be JSON (${(err as Error).message})`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new InputError(field, data, 'must be an object like {"files": [...]}');
  }
  // Unknown keys are typos more often than not ("form"): refuse them.
  for (const key of Object.keys(data)) {
    if (key !== "files" && key !== "required" && key !== "$comment") {
      throw new InputError(
        field,
        key,
        'must have only the keys "files", "required" and "$comment"',
      );
    }
  }
  const requiredList = (data as { required?: unknown }).required ?? [];
  if (!Array.isArray(requiredList)) {
    throw new InputError(`${field} required`, requiredList, "must be an array of paths");
  }
  const required = requiredList.map((p: unknown, i): string => {
    if (typeof p !== "string" || !isSafeRelative(p)) {
      throw new InputError(
        `${field} required[${i}]`,
        p,
        "must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)",
      );
    }
    return p;
  });
  const list = (data as { files?: unknown }).files ?? [];
  if (!Array.isArray(list)) throw new InputError(`${field} files`, list, "must be an array");
  const seen = new Set<string>();
  const files = list.map((item: unknown, i): StageFile => {
    const at = `${field} files[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new InputError(at, item, 'must be an object like {"from": ..., "to": ...}');
    }
    for (const key of Object.keys(item)) {
      if (!["from", "to", "mode", "version"].includes(key)) {
        throw new InputError(at, key, 'must have only the keys "from", "to", "mode" and "version"');
      }
    }
    const { from, to, mode, version } = item as Record<string, unknown>;
    if (typeof from !== "string" || splitNpmPath(from) === null) {
      throw new InputError(`${at}.from`, from, "must be '<npm package>/<path inside it>'");
    }
    if (typeof to !== "string" || !isSafeRelative(to)) {
      throw new InputError(
        `${at}.to`,
        to,
        "must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)",
      );
    }
    if (seen.has(to)) throw new InputError(`${at}.to`, to, "must appear once");
    seen.add(to);
    if (version !== undefined && (typeof version !== "string" || version === "")) {
      throw new InputError(
        `${at}.version`,
        version,
        'must be the npm package\'s exact version, e.g. "4.1.0"',
      );
    }
    if (mode !== undefined && (typeof mode !== "string" || !/^0?[0-7]{3}$/.test(mode))) {
      throw new InputError(`${at}.mode`, mode, 'must be an octal string such as "0755" or "0644"');
    }
    return {
      from,
      to,
      ...(version !== undefined ? { version: version as string } : {}),
      ...(mode !== undefined ? { mode: parseInt(mode as string, 8) } : {}),
    };
  });
  return { files, required };
}

/** The installed package's folder: the first `node_modules/<pkg>` above any start folder. */
export async function findPackageDir(pkg: string, starts: string[]): Promise<string | null> {
  for (const start of starts) {
    let dir = path.resolve(start);
    for (;;) {
      const candidate = path.join(dir, "node_modules", pkg);
      try {
        if ((await fs.stat(path.join(candidate, "package.json"))).isFile()) return candidate;
      } catch {
        // not here: go up
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return null;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256File(a), sha256File(b)]);
  return ha.sha256 === hb.sha256;
}

/** The staging copies of `name` any run makes: `.<name>.<pid>.staging`, the pid captured. */
function stagingPattern(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${escaped}\\.(\\d+)\\.staging$`);
}

/** Reads `<folder>/stage.json`; no file means nothing to stage. */
export async function readStageManifest(folder: string): Promise<StageManifest> {
  const file = path.join(folder, STAGE_MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { files: [], required: [] };
    throw err;
  }
  return parseStageManifest(text, file);
}

/**
 * Stages the files `<folder>/stage.json` lists. Checks the whole manifest (sources found, versions
 * matching) before copying anything; throws InputError naming the manifest entry otherwise.
 */
export async function stageFolder(opts: StageOptions): Promise<StagedFile[]> {
  checkPackageFolder(opts.folder, opts.folderField);
  const manifestPath = path.join(opts.folder, STAGE_MANIFEST);
  const manifest = await readStageManifest(opts.folder);
  const starts = opts.resolveFrom ?? [opts.folder];

  const plan: Array<{ file: StageFile; source: string; mode: number; nodeModules: string }> = [];
  for (const [i, file] of manifest.files.entries()) {
    const at = `${manifestPath} files[${i}]`;
    const { pkg, inner } = splitNpmPath(file.from) as { pkg: string; inner: string };
    const pkgDir = await findPackageDir(pkg, starts);
    if (pkgDir === null) {
      throw new InputError(
        `${at}.from`,
        file.from,
        `must name a file in an installed npm package (${pkg} is not installed; run npm ci)`,
      );
    }
    if (file.version !== undefined) {
      const installed = (
        JSON.parse(await fs.readFile(path.join(pkgDir, "package.json"), "utf8")) as {
          version?: string;
        }
      ).version;
      if (installed !== file.version) {
        throw new InputError(
          `${at}.version`,
          file.version,
          `must match the installed ${pkg} (${installed ?? "no version"}): run npm ci, or update stage.json (a change under the package folder, so the package version moves too)`,
        );
      }
    }
    const source = path.join(pkgDir, ...inner.split("/"));
    const st = await fs.stat(source).catch(() => null);
    if (!st?.isFile()) {
      throw new InputError(
        `${at}.from`,
        file.from,
        `must name a file in an installed npm package (${source} is not a file)`,
      );
    }
    const nodeModules = path.resolve(pkgDir, ...pkg.split("/").map(() => ".."));
    plan.push({ file, source, mode: file.mode ?? st.mode & 0o777, nodeModules });
  }

  const root = await fs.realpath(opts.folder);
  const results: StagedFile[] = [];
  const now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  for (const [i, { file, source, mode, nodeModules }] of plan.entries()) {
    const dest = path.join(opts.folder, ...file.to.split("/"));
    // A symlinked directory on the way could lead outside the folder: check the deepest part of
    // the way that exists before creating anything below it.
    let way = path.dirname(dest);
    while (!(await fs.stat(way).catch(() => null))) way = path.dirname(way);
    const parent = path.relative(root, await fs.realpath(way));
    if (parent === ".." || parent.startsWith(`..${path.sep}`) || path.isAbsolute(parent)) {
      throw new InputError(
        `${manifestPath} files[${i}].to`,
        file.to,
        "must lead to a path inside the package folder (a symlink on the way leads outside)",
      );
    }
    await fs.mkdir(path.dirname(dest), { recursive: true });
    // A copy left by a run that was killed outright (its process is gone) would be zipped.
    sweepLeftovers(path.dirname(dest), stagingPattern(path.basename(dest)));
    const recordPath = stageRecordPath(nodeModules, dest);
    // Before the stats: a change after them carries a later ctime than any this clock calls old.
    const statedAt = now();
    const sourceStat = await fs.stat(source, { bigint: true });
    const bytes = Number(sourceStat.size);
    const existing = await fs.lstat(dest, { bigint: true }).catch(() => null);
    const record = existing?.isFile()
      ? {
          format: STAGE_RECORD_FORMAT,
          source: fileSignature(source, sourceStat),
          dest: fileSignature(dest, existing),
          destPath: path.resolve(dest),
        }
      : null;
    const kept = record ? await readStageRecord(recordPath) : null;
    const recorded =
      kept !== null &&
      record !== null &&
      kept.source === record.source &&
      kept.dest === record.dest;
    let action: StageAction;
    if (
      existing &&
      record &&
      (recorded || (existing.size === sourceStat.size && (await sameContent(source, dest))))
    ) {
      if ((Number(existing.mode) & 0o777) === mode) {
        action = "unchanged";
        const settled = (st: BigIntStats) => st.ctimeNs < statedAt - RACY_NS;
        if (!recorded) {
          await updateStageRecord(
            recordPath,
            settled(sourceStat) && settled(existing) ? record : null,
          );
        }
      } else {
        await fs.chmod(dest, mode);
        action = "mode-set";
        // chmod gave the file a new ctime: the record no longer describes it.
        await updateStageRecord(recordPath, null);
      }
    } else {
      await updateStageRecord(recordPath, null);
      const tmp = trackTemp(
        path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.staging`),
      );
      try {
        await fs.copyFile(source, tmp);
        await fs.chmod(tmp, mode);
        await pausePoint("stage:copied");
        // rename replaces a file or symlink at dest atomically; a directory there fails it.
        await fs.rename(tmp, dest);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      } finally {
        untrackTemp(tmp);
      }
      action = "copied";
    }
    results.push({ to: file.to, from: file.from, source, action, mode, bytes });
  }
  return results;
}

export interface DeclaredFilesOptions {
  /** The package folder, as the user named it (for messages). */
  folder: string;
  /** Zip paths of the files the package would hold. */
  files: ReadonlySet<string>;
  /** Folders to look for `node_modules` above (to say whether a staged source is installed). */
  resolveFrom?: string[];
  /** Names the folder in messages. Default "package folder". */
  folderField?: string;
}

/**
 * The files `<folder>/stage.json` declares (each staged `to`, each `required` path) that the
 * package would not hold, one InputError each saying how to get it. Reads the manifest only.
 */
export async function missingDeclaredFiles(opts: DeclaredFilesOptions): Promise<InputError[]> {
  const manifest = await readStageManifest(opts.folder);
  const field = opts.folderField ?? "package folder";
  const stageCommand = `npm run stage-app, or hpc-batch stage --folder ${opts.folder}`;
  const errors: InputError[] = [];
  for (const file of manifest.files) {
    if (opts.files.has(file.to)) continue;
    const { pkg } = splitNpmPath(file.from) as { pkg: string; inner: string };
    const installed = (await findPackageDir(pkg, opts.resolveFrom ?? [opts.folder])) !== null;
    errors.push(
      new InputError(
        field,
        opts.folder,
        installed
          ? `must hold ${file.to}, which stage.json copies from ${file.from}: stage it first (${stageCommand})`
          : `must hold ${file.to}, which stage.json copies from ${file.from}, and ${pkg} is not installed: run npm ci (it installs ${pkg}, an optional dependency, on the platforms it supports), then stage it (${stageCommand})`,
      ),
    );
  }
  for (const p of manifest.required) {
    if (!opts.files.has(p)) {
      errors.push(
        new InputError(field, opts.folder, `must hold ${p}, which stage.json lists as required`),
      );
    }
  }
  return errors;
}
