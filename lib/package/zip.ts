/**
 * Builds `<outDir>/<applicationId>-<version>.zip` from a package folder: reproducible (the bytes
 * depend only on the files' paths, contents and executable bits), no root folder, Unix modes kept,
 * written to a temporary file and renamed so the final path never holds a partial zip.
 *
 * Format (docs/packaging.md): lib/package/zipWriter, deflate; entries sorted as `scanPackageFolder`
 * returns them; every timestamp the fixed DOS time 1980-01-01 00:00:00 and no extra fields (so no
 * extended timestamp); CRC and sizes in the local headers (no data descriptors); "made by" Unix
 * with the normalized mode in the external attributes; no comments, no ZIP64. Large files are
 * deflated in 1 MiB pieces on several cores; the bytes do not depend on how many.
 * SOURCE_DATE_EPOCH is deliberately ignored: the zip's sha256 is how a publisher knows an
 * unchanged package, so it must not change with the build's date.
 * The deflate stream comes from Node's bundled zlib: pin the Node version across machines that
 * publish the same package version (another zlib may pick different, equally valid, matches).
 */
import { randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { InputError, throwIfAny } from "../core/errors";
import { sha256File } from "../core/fileDigest";
import { pausePoint, sweepLeftovers, trackTemp, untrackTemp } from "../core/interrupt";
import { makeOutputDir } from "../core/outputDir";
import type { PackageInfo } from "../core/packageFile";
import { validateApplicationId, validateApplicationVersion } from "../core/naming";
import { PackageLimits, resolveLimits, scanPackageFolder } from "./packageFolder";
import { missingDeclaredFiles } from "./stage";
import type { WrittenSoFar, ZipResult, ZipWriter } from "./zipWriter";

// The built package's type is shared with publishing and the component (lib/core/packageFile).
export type { PackageInfo };

/**
 * A zip of the same id and version with other content is already built (`ifChanged: "refuse"`).
 * Nothing was written: the zip at `path` is untouched.
 */
export class PackageChangedError extends InputError {
  constructor(
    readonly path: string,
    readonly version: string,
    readonly previousSha256: string,
    readonly sha256: string,
  ) {
    super(
      "version",
      version,
      `${path} already holds version ${version} with other content (sha256 ${previousSha256.slice(0, 12)}..., now ${sha256.slice(0, 12)}...): a version must keep its content once built; build another version`,
    );
    this.name = "PackageChangedError";
  }
}

export interface PackageProgress {
  /** Zip path of the file being read. */
  file: string;
  filesDone: number;
  filesTotal: number;
  /** Uncompressed bytes read so far, of `bytesTotal`. */
  bytesDone: number;
  bytesTotal: number;
}

export interface BuildPackageOptions {
  /** The package folder; its contents become the zip's root. */
  folder: string;
  /** Where the zip goes (created if missing); must not be inside `folder`. */
  outDir: string;
  /** Names `outDir` in messages: the flag or folder it came from. Default "outDir". */
  outDirField?: string;
  /** Batch application id: 1 to 64 letters, digits, `-`, `_`. */
  applicationId: string;
  /** Batch application version: 1 to 64 letters, digits, `-`, `_`, `.`. */
  version: string;
  /** Called as file content is read. */
  onProgress?: (progress: PackageProgress) => void;
  /** Package limits; unset fields take `DEFAULT_PACKAGE_LIMITS`. */
  limits?: Partial<PackageLimits>;
  /** Deflate level 1 (fastest) to 9 (smallest). Default `DEFAULT_COMPRESSION_LEVEL` (4). */
  compressionLevel?: number;
  /**
   * Reuse the zip at the final path when the last build there read the same files (same
   * signatures: inode, size, mtime, ctime) with the same format. Default true: an unchanged
   * re-release then costs a folder scan, not a recompression.
   */
  reuse?: boolean;
  /**
   * When a zip of the same id and version with other content is at the final path: "replace" it
   * (the result's `replaced` says so) or "refuse" (PackageChangedError, nothing written).
   * Default "replace".
   */
  ifChanged?: "replace" | "refuse";
  /** Names the folder in messages: the flag or config key it came from. Default "package folder". */
  folderField?: string;
  /** Folders to look for `node_modules` above, to say how to stage a missing file. */
  resolveFrom?: string[];
  /**
   * Called while the zip is written, with a handle to follow it as it grows (publish uploads it
   * meanwhile), once it is long enough that it cannot expand more than `maxCompressionRatio`
   * times (the check publish makes of every zip, lib/package/zipInspect: a zip that could fail it
   * is never followed). Not called when the zip is reused, nor when a zip is already at the final
   * path (the new one may differ from it and be refused or replace it: follow the result).
   */
  follow?: (zip: GrowingZip) => void;
}

/**
 * A zip being written, for a reader that follows it: the bytes of a range are final once
 * `until` resolves for it. The file is a partial one, renamed when complete: a descriptor opened
 * on `partialPath` before that keeps reading it.
 */
export interface GrowingZip {
  /** Where the zip will be once complete. */
  path: string;
  partialPath: string;
  /**
   * Resolves once the bytes from `start` (default 0) to `end` are final, or the zip is complete
   * (then with its size, which may be less than `end`); rejects when the build fails.
   */
  until(end: number, start?: number): Promise<{ complete?: number }>;
}

/** The writer's progress, shared with the follower (`GrowingZip.until`). */
class ZipProgress implements GrowingZip {
  private written: WrittenSoFar = { upTo: 0 };
  private size?: number;
  private failure?: Error;
  private waiters: {
    start: number;
    end: number;
    resolve: (v: { complete?: number }) => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(
    readonly path: string,
    readonly partialPath: string,
  ) {}

  until(end: number, start = 0): Promise<{ complete?: number }> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ start, end, resolve, reject });
      this.settle();
    });
  }

  update(written: WrittenSoFar) {
    this.written = written;
    this.settle();
  }

  complete(size: number) {
    this.size = size;
    this.settle();
  }

  fail(err: Error) {
    this.failure = err;
    this.settle();
  }

  /** Written, and before or after (not across) the header being reserved. */
  private final(start: number, end: number): boolean {
    const { upTo, hole } = this.written;
    return end <= upTo && (hole === undefined || end <= hole[0] || start >= hole[1]);
  }

  private settle() {
    this.waiters = this.waiters.filter((w) => {
      if (this.failure) w.reject(this.failure);
      else if (this.size !== undefined) w.resolve({ complete: this.size });
      else if (this.final(w.start, w.end)) w.resolve({});
      else return true;
      return false;
    });
  }
}

/**
 * Partial files a build leaves in its out folder while it runs: `.<zip>.<pid>.<8 hex>.partial`
 * and `.<zip>.build.json.<pid>.partial`; the pid is the first group. Anchored on the fixed suffix
 * of each form, so an all-digit random part is never read as the pid (it was: a live build's
 * partial was swept by another process and its rename failed with ENOENT).
 */
export const PARTIAL_RE = /^\..+\.(?:zip\.(\d+)\.[0-9a-f]{8}|build\.json\.(\d+))\.partial$/;

/** The file name of a package zip. */
export function packageFileName(applicationId: string, version: string): string {
  return `${applicationId}-${version}.zip`;
}

/**
 * The fixed entry time, 1980-01-01 00:00:00, as a local-time Date (DOS times have no zone). The
 * writer stores it as the constant DOS date 0x0021 / time 0, so no zone can change the bytes.
 */
export function packageEntryTime(): Date {
  return new Date(1980, 0, 1, 0, 0, 0);
}

/**
 * zlib level 4, the cheapest level with lazy matching. Measured on the staged ffmpeg (2 shared
 * cores, median of 5, Info-ZIP `zip -q -r -X -6` 2.17 s / 23,089,368 bytes): level 4 0.53 s
 * (0.24x) for 1.043x the size; level 5 0.63 s for 1.021x; level 6 0.73 s for 1.017x. Levels 1-3
 * save under 0.08 s for 1.07x-1.10x the size. Changing it changes every zip's bytes.
 */
export const DEFAULT_COMPRESSION_LEVEL = 4;

/** The piece size files are deflated in (ZipWriter's chunkSize, its default): it decides the bytes. */
const PACKAGE_CHUNK_SIZE = 1 << 20;

/** Everything besides the files that decides the bytes; part of the reuse key. */
const FORMAT = `hpc-batch-zip/2 chunk/${PACKAGE_CHUNK_SIZE} zlib/${process.versions.zlib}`;

interface BuildRecord {
  key: string;
  zip: { sha256: string; bytes: number; files: number; ino: string; mtimeNs: string };
}

/** True while the zip on disk is the one a build record describes (same size, inode, mtime). */
function stillRecorded(zip: BuildRecord["zip"], st: BigIntStats): boolean {
  return (
    Number(st.size) === zip.bytes &&
    String(st.ino) === zip.ino &&
    String(st.mtimeNs) === zip.mtimeNs
  );
}

/** The build record at `recordPath`, or null when there is none or it cannot be read. */
async function readBuildRecord(recordPath: string): Promise<BuildRecord | null> {
  try {
    return JSON.parse(await fs.readFile(recordPath, "utf8")) as BuildRecord;
  } catch {
    return null;
  }
}

/** The record of the last build of `zipPath`, if that zip is still the one it describes. */
async function reusableBuild(recordPath: string, zipPath: string, key: string) {
  const record = await readBuildRecord(recordPath);
  if (record?.key !== key) return null;
  const st = await fs.stat(zipPath, { bigint: true }).catch(() => null);
  return st && record.zip && stillRecorded(record.zip, st) ? record.zip : null; // else build
}

/** The sha256 and size of the zip at `zipPath` (from its build record when that still fits). */
async function existingZip(
  recordPath: string,
  zipPath: string,
): Promise<{ sha256: string; bytes: number } | null> {
  const st = await fs.stat(zipPath, { bigint: true }).catch(() => null);
  if (!st?.isFile()) return null;
  const zip = (await readBuildRecord(recordPath))?.zip;
  if (zip && stillRecorded(zip, st)) return { sha256: zip.sha256, bytes: zip.bytes };
  return sha256File(zipPath);
}

/**
 * The sha256 and size of a zip, taken from the build record `hpc-batch package` keeps beside it
 * (`.<zip>.build.json`) while the zip's size, inode and mtime are still the ones recorded, else
 * by reading the zip. The record is trusted as the package reuse trusts it: a rewrite of the zip
 * changes its mtime (or inode) unless someone sets the old mtime back on purpose. It only decides
 * "unchanged": publish reads the zip again before any upload and refuses a digest that differs.
 */
export async function zipDigest(zipPath: string): Promise<{ sha256: string; bytes: number }> {
  const record = path.join(path.dirname(zipPath), `.${path.basename(zipPath)}.build.json`);
  const digest = await existingZip(record, zipPath);
  if (!digest) throw new Error(`${zipPath} is not a file`);
  return digest;
}

/** Writes the build record beside the zip (best effort: without it the next build just rebuilds). */
async function recordBuild(recordPath: string, zipPath: string, key: string, info: PackageInfo) {
  const tmp = trackTemp(`${recordPath}.${process.pid}.partial`);
  try {
    const st = await fs.stat(zipPath, { bigint: true });
    const record: BuildRecord = {
      key,
      zip: {
        sha256: info.sha256,
        bytes: info.bytes,
        files: info.files,
        ino: String(st.ino),
        mtimeNs: String(st.mtimeNs),
      },
    };
    await fs.writeFile(tmp, JSON.stringify(record));
    await fs.rename(tmp, recordPath);
  } catch {
    await fs.rm(tmp, { force: true });
  } finally {
    untrackTemp(tmp);
  }
}

function isInsideOrSame(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}

/**
 * Zips `folder` into `<outDir>/<applicationId>-<version>.zip`. Throws InputError (nothing written)
 * for a bad id, version, folder or outDir, and for a folder missing a file its stage.json declares
 * (a staged binary, a required file); any other failure removes the temporary file and leaves
 * an existing zip at the final path untouched.
 */
export async function buildPackage(opts: BuildPackageOptions): Promise<PackageInfo> {
  const applicationId = validateApplicationId("applicationId", opts.applicationId);
  const version = validateApplicationVersion("version", opts.version);
  const level = opts.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new InputError("compressionLevel", level, "must be an integer from 1 to 9");
  }
  const scan = await scanPackageFolder(opts.folder, opts.limits, opts.folderField);
  // A package must hold what its folder declares it needs: without this, a fresh clone with
  // nothing staged would build (and could publish) a version without its binary.
  throwIfAny(
    await missingDeclaredFiles({
      folder: opts.folder,
      files: new Set(scan.entries.filter((e) => e.kind === "file").map((e) => e.zipPath)),
      resolveFrom: opts.resolveFrom,
      folderField: opts.folderField,
    }),
  );
  const outDir = path.resolve(opts.outDir);
  if (isInsideOrSame(path.resolve(opts.folder), outDir) || isInsideOrSame(scan.root, outDir)) {
    throw new InputError(
      opts.outDirField ?? "outDir",
      opts.outDir,
      `must be outside the package folder ${JSON.stringify(opts.folder)} (the zip would package itself)`,
    );
  }

  const name = packageFileName(applicationId, version);
  const finalPath = path.join(outDir, name);
  const recordPath = path.join(outDir, `.${name}.build.json`);
  const key = JSON.stringify({
    format: FORMAT,
    level,
    entries: scan.entries.map((e) => [e.zipPath, e.mode, e.signature ?? null]),
  });
  if (opts.reuse !== false) {
    const previous = await reusableBuild(recordPath, finalPath, key);
    if (previous) {
      return {
        path: finalPath,
        sha256: previous.sha256,
        bytes: previous.bytes,
        version,
        applicationId,
        files: previous.files,
      };
    }
  }
  // What a run killed outright left (its process is gone).
  sweepLeftovers(outDir, PARTIAL_RE);
  const previousZip = await existingZip(recordPath, finalPath);
  await makeOutputDir(outDir, opts.outDirField ?? "outDir", opts.outDir);
  // Same directory as the final path, so the rename is atomic.
  const tmpPath = trackTemp(
    path.join(outDir, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}.partial`),
  );

  let filesDone = 0;
  let bytesDone = 0;
  const filesTotal = scan.files;
  const bytesTotal = scan.totalBytes;
  let writer: ZipWriter | undefined;
  let result: ZipResult;
  // Followed only when nothing is at the final path, once the zip cannot be refused as a zip
  // bomb (see BuildPackageOptions.follow).
  const progress =
    opts.follow && previousZip === null ? new ZipProgress(finalPath, tmpPath) : undefined;
  const maxRatio = resolveLimits(opts.limits).maxCompressionRatio;
  let followed = false;
  const follow = (upTo: number) => {
    if (!progress || followed || upTo * maxRatio < scan.totalBytes) return;
    followed = true;
    opts.follow?.(progress);
  };
  try {
    // Loaded only to write: finding a zip up to date needs none of the writer.
    const { ZipWriter } = await import("./zipWriter");
    writer = await ZipWriter.create(tmpPath, {
      level,
      chunkSize: PACKAGE_CHUNK_SIZE,
      onWritten:
        progress &&
        ((w) => {
          progress.update(w);
          follow(w.upTo);
        }),
    });
    follow(0);
    for (const entry of scan.entries) {
      if (entry.kind === "directory") {
        await writer.addDirectory(entry.zipPath, entry.mode);
        continue;
      }
      const file = entry.zipPath;
      await writer.addFile(file, entry.source as string, {
        mode: entry.mode,
        // The writer fails the zip if the file changed size since the scan.
        size: entry.size,
        onRead: (n) => {
          if (n === 0) return;
          bytesDone += n;
          opts.onProgress?.({ file, filesDone, filesTotal, bytesDone, bytesTotal });
        },
      });
      filesDone += 1;
      opts.onProgress?.({ file, filesDone, filesTotal, bytesDone, bytesTotal });
      if (filesDone === 1) await pausePoint("zip:writing");
    }
    result = await writer.finish();
    progress?.complete(result.bytes);
    const changed = previousZip !== null && previousZip.sha256 !== result.sha256;
    if (changed && opts.ifChanged === "refuse") {
      throw new PackageChangedError(finalPath, version, previousZip.sha256, result.sha256);
    }
    await fs.rename(tmpPath, finalPath);
  } catch (err) {
    await writer?.abort().catch(() => undefined);
    await fs.rm(tmpPath, { force: true });
    if (err instanceof PackageChangedError) throw err;
    const failed = new Error(`could not zip ${opts.folder}: ${(err as Error).message}`, {
      cause: err,
    });
    progress?.fail(failed);
    throw failed;
  } finally {
    untrackTemp(tmpPath);
  }
  const info: PackageInfo = {
    path: finalPath,
    sha256: result.sha256,
    bytes: result.bytes,
    version,
    applicationId,
    files: scan.files,
  };
  if (previousZip !== null && previousZip.sha256 !== result.sha256) info.replaced = previousZip;
  await recordBuild(recordPath, finalPath, key, info);
  return info;
}
