/**
 * Reads a package folder into the exact, sorted list of zip entries `buildPackage` writes, or
 * refuses it with an InputError before anything is written. Also holds the package limits that
 * `inspectZip` applies to zips made elsewhere.
 *
 * Decisions (docs/packaging.md):
 * - Entries are sorted by the UTF-8 bytes of their zip path, never the filesystem's listing order.
 * - Every directory below the root gets an entry (`bin/`, mode 0755), so empty directories survive
 *   and the node's extractor gets explicit directory modes; the root itself has none.
 * - Modes are normalized: 0755 when any execute bit is set, else 0644 (directories 0755). Owner,
 *   group, umask and setuid/setgid/sticky bits never reach the zip.
 * - A symlink to a file inside the folder is stored as that file (content and mode): zip symlinks
 *   are not documented to survive Batch's unpacking. A symlink to a directory, outside the folder,
 *   dangling or looping is refused, as are fifos, sockets and devices.
 * - A staging copy another live process is writing (`.<name>.<pid>.staging`, lib/package/stage)
 *   is refused, never zipped half copied. Once that process has ended the name is ordinary
 *   content: `stage` removes the leftovers of stage.json's own files before any build.
 */
import { statSync, type BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { InputError } from "../core/errors";
import { isProcessAlive } from "../core/interrupt";

/** What a package may hold. Every field is a parameter; `DEFAULT_PACKAGE_LIMITS` documents why. */
export interface PackageLimits {
  /** Most zip entries (files plus directories). */
  maxEntries: number;
  /** Most bytes of file content, uncompressed. */
  maxTotalBytes: number;
  /** Longest path inside the package, in UTF-8 bytes. */
  maxPathBytes: number;
  /**
   * Highest ratio of uncompressed bytes to zip bytes `inspectZip` accepts (zip bombs), applied
   * once the entries declare more than `RATIO_FLOOR_BYTES` (the ratio of tiny zips means nothing).
   */
  maxCompressionRatio: number;
}

/**
 * Batch documents no package size or file count limit of its own (batch-quota-limit.md lists
 * only 20 applications and 40 versions; older revisions gave "approx. 195 GB", the old block
 * blob maximum). These defaults keep packages inside what every unzip handles:
 * - 65,534 entries and 4,000,000,000 bytes: below the ZIP64 thresholds (65,535 entries,
 *   4 GiB), which the node agent's extractor is not documented to read; 4 GB also leaves room
 *   for headers and deflate's worst-case growth.
 * - 1,024-byte paths: the node prefixes them with `AZ_BATCH_NODE_ROOT_DIR/applications/<id>...`,
 *   and Linux refuses paths over 4,096 bytes.
 * - ratio 100: ffmpeg compresses about 3:1; deflate cannot exceed about 1032:1 per entry, so a
 *   zip claiming more than 100:1 overall is almost certainly a bomb (or padding worth refusing).
 */
export const DEFAULT_PACKAGE_LIMITS: Readonly<PackageLimits> = Object.freeze({
  maxEntries: 65_534,
  maxTotalBytes: 4_000_000_000,
  maxPathBytes: 1_024,
  maxCompressionRatio: 100,
});

/** The compression ratio check starts above this many uncompressed bytes (1 MiB). */
export const RATIO_FLOOR_BYTES = 1 << 20;

/** Fills unset limits with the defaults and checks the ones given. */
export function resolveLimits(limits: Partial<PackageLimits> = {}): PackageLimits {
  const out = { ...DEFAULT_PACKAGE_LIMITS, ...limits };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InputError(`limits.${key}`, value, "must be a positive integer");
    }
  }
  return out;
}

export const FILE_MODE = 0o100644;
export const EXECUTABLE_MODE = 0o100755;
export const DIRECTORY_MODE = 0o040755;

export interface PackageEntry {
  /** Path inside the zip: `/`-separated, relative; directories end with `/`. */
  zipPath: string;
  kind: "file" | "directory";
  /** File to read the content from (a symlink's resolved target); unset for directories. */
  source?: string;
  /** Content size in bytes (0 for directories). */
  size: number;
  /** Normalized Unix mode with its type bits: 0o100755, 0o100644 or 0o040755. */
  mode: number;
  /**
   * For files: device, inode, size, mtime and ctime (ns) and source path. Equal signatures mean
   * unchanged content (ctime moves on every write and cannot be set back), so `buildPackage` can
   * reuse a zip it built from the same signatures.
   */
  signature?: string;
}

export interface ScannedFolder {
  /** The folder's real path (symlinks resolved). */
  root: string;
  /** Entries in zip order: sorted by the UTF-8 bytes of `zipPath`. */
  entries: PackageEntry[];
  files: number;
  directories: number;
  /** Sum of file sizes. */
  totalBytes: number;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The rule a path inside the package breaks, or null. Pure; `rel` uses `/` separators. */
export function pathRule(rel: string, maxPathBytes: number): string | null {
  // Linux allows these in names, but `\` is a separator to Windows and to zip readers (they turn
  // `..\x` into `../x`), so such a name could escape the extraction folder.
  if (rel.includes("\\")) {
    return "must not contain '\\' (a path separator on Windows, so the name could escape the extraction folder)";
  }
  if (/[\u0000-\u001f\u007f]/.test(rel)) return "must not contain control characters";
  const bytes = Buffer.byteLength(rel, "utf8");
  if (bytes > maxPathBytes) return `must be at most ${maxPathBytes} bytes long (it is ${bytes})`;
  return null;
}

/** `target` is `root` or below it. */
function isWithin(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return !rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel);
}

function fileKind(st: BigIntStats): string {
  if (st.isFIFO()) return "a fifo";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "an unknown file type";
}

function normalizedMode(mode: bigint): number {
  return mode & 0o111n ? EXECUTABLE_MODE : FILE_MODE;
}

function signatureOf(st: BigIntStats, source: string): string {
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, source].join(":");
}

/** Staging copies' names (`.<name>.<pid>.staging`, lib/package/stage), the pid captured. */
export const STAGING_FILE_RE = /^\..+\.(\d+)\.staging$/;

/**
 * Checks `folder` is an existing directory (InputError naming `field` otherwise): the first check
 * of a scan, and `publish --folder`'s, made with the other flags' before anything is built.
 */
export function checkPackageFolder(folder: string, field = "package folder"): void {
  let stat;
  try {
    stat = statSync(folder);
  } catch {
    throw new InputError(field, folder, "must be an existing directory");
  }
  if (!stat.isDirectory()) {
    throw new InputError(field, folder, "must be a directory, not a file");
  }
}

/**
 * Scans `folder` (as given, for messages) and returns the entries to zip. Throws InputError for a
 * missing, non-directory or empty folder, a path or entry the package cannot carry, and anything
 * over `limits`. Reads only; writes nothing.
 */
export async function scanPackageFolder(
  folder: string,
  limits: Partial<PackageLimits> = {},
  /** Names the folder in messages: the flag or config key it came from. */
  field = "package folder",
): Promise<ScannedFolder> {
  const lim = resolveLimits(limits);
  checkPackageFolder(folder, field);
  const root = await fs.realpath(folder);
  const entryError = (rel: string, rule: string) =>
    new InputError(`path in package folder ${JSON.stringify(folder)}`, rel, rule);

  /** A staging copy of stageFolder's that another process is still writing. */
  const stagingRule = (name: string): string | undefined => {
    const m = STAGING_FILE_RE.exec(name);
    if (!m) return undefined;
    const pid = Number(m[1]);
    if (pid === process.pid || !isProcessAlive(pid)) return undefined;
    return (
      `is a copy another hpc-batch run (process ${pid}) is staging: run again once it has ended ` +
      `(if process ${pid} is not an hpc-batch run, rename the file)`
    );
  };

  const entries: PackageEntry[] = [];
  let files = 0;
  let totalBytes = 0;
  const add = (entry: PackageEntry) => {
    entries.push(entry);
    if (entries.length > lim.maxEntries) {
      throw new InputError(
        field,
        folder,
        `must hold at most ${lim.maxEntries} files and directories (limits.maxEntries)`,
      );
    }
    if (entry.kind === "file") {
      files += 1;
      totalBytes += entry.size;
      if (totalBytes > lim.maxTotalBytes) {
        throw new InputError(
          field,
          folder,
          `must hold at most ${lim.maxTotalBytes} bytes of files (limits.maxTotalBytes); it holds more`,
        );
      }
    }
  };

  // Depth-first over sorted names, so the first refusal reported does not depend on the listing.
  const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
    const raw = (await fs.readdir(dirAbs, { encoding: "buffer" })) as Buffer[];
    raw.sort(Buffer.compare);
    for (const nameBytes of raw) {
      let name: string;
      try {
        name = UTF8.decode(nameBytes);
      } catch {
        const shown = dirRel + nameBytes.toString("latin1");
        throw entryError(shown, "must be valid UTF-8 (zip names are stored as UTF-8)");
      }
      const rel = dirRel + name;
      const broken = pathRule(rel, lim.maxPathBytes);
      if (broken) throw entryError(rel, broken);
      const abs = path.join(dirAbs, name);
      const st = await fs.lstat(abs, { bigint: true });
      if (st.isDirectory()) {
        add({ zipPath: `${rel}/`, kind: "directory", size: 0, mode: DIRECTORY_MODE });
        await walk(abs, `${rel}/`);
      } else if (st.isFile()) {
        const staging = stagingRule(name);
        if (staging) throw entryError(rel, staging);
        add({
          zipPath: rel,
          kind: "file",
          source: abs,
          size: Number(st.size),
          mode: normalizedMode(st.mode),
          signature: signatureOf(st, abs),
        });
      } else if (st.isSymbolicLink()) {
        const target = await fs.readlink(abs);
        let real: string;
        try {
          real = await fs.realpath(abs);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why = code === "ELOOP" ? "it loops" : "it is dangling";
          throw entryError(
            rel,
            `must be a symlink to a file inside the folder (it points to ${JSON.stringify(target)}: ${why})`,
          );
        }
        if (!isWithin(root, real)) {
          throw entryError(
            rel,
            `must be a symlink to a file inside the folder (it points to ${JSON.stringify(target)}, outside)`,
          );
        }
        const targetStat = await fs.stat(real, { bigint: true });
        if (targetStat.isDirectory()) {
          throw entryError(
            rel,
            `must be a symlink to a file, not to a directory (it points to ${JSON.stringify(target)}); copy the directory instead`,
          );
        }
        if (!targetStat.isFile()) {
          throw entryError(
            rel,
            `must be a symlink to a regular file (it points to ${fileKind(targetStat)})`,
          );
        }
        add({
          zipPath: rel,
          kind: "file",
          source: real,
          size: Number(targetStat.size),
          mode: normalizedMode(targetStat.mode),
          signature: signatureOf(targetStat, real),
        });
      } else {
        throw entryError(
          rel,
          `must be a regular file, a directory or a symlink to a file (it is ${fileKind(st)})`,
        );
      }
    }
  };
  await walk(root, "");

  if (files === 0) {
    throw new InputError(field, folder, "must contain at least one file");
  }
  const byBytes = (a: PackageEntry, b: PackageEntry) =>
    Buffer.compare(Buffer.from(a.zipPath, "utf8"), Buffer.from(b.zipPath, "utf8"));
  entries.sort(byBytes);
  return { root, entries, files, directories: entries.length - files, totalBytes };
}
