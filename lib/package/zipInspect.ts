/**
 * Reading package zips that may come from anywhere (`publish --zip`, `local-run`): `inspectZip`
 * lists and checks one from its central directory alone; `extractZip` checks it the same way, then
 * unpacks it keeping Unix modes and verifying each entry's size and CRC-32.
 *
 * Refused, with an InputError naming the zip, the entry and the rule, before anything is written:
 * a file that is not a zip; entries with an absolute path, `..`, `\`, control characters, empty or
 * `.` segments, or a path over the limit; duplicates, or a path that is both a file and a directory;
 * symlinks, fifos and devices; encrypted entries or compression other than stored/deflate; more
 * entries or uncompressed bytes than the limits; an overall expansion ratio over the limit, or
 * entries whose data overlap (both signs of a zip bomb).
 */
import { createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Transform, TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as yauzl from "yauzl";
import { InputError } from "../core/errors";
import { PackageLimits, RATIO_FLOOR_BYTES, pathRule, resolveLimits } from "./packageFolder";
import { crc32 } from "./crc32";

export interface ZipEntryInfo {
  /** The entry's path as stored; directories end with `/`. */
  name: string;
  kind: "file" | "directory";
  /** Permission bits extraction gives it (setuid, setgid and sticky bits dropped). */
  mode: number;
  /** Uncompressed size in bytes. */
  size: number;
  compressedSize: number;
  crc32: number;
}

export interface ZipListing {
  path: string;
  /** Size of the zip file. */
  bytes: number;
  /** In the zip's central directory order. */
  entries: ZipEntryInfo[];
  files: number;
  directories: number;
  /** Sum of the entries' declared uncompressed sizes. */
  uncompressedBytes: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** "Version made by" host 3: the external attributes' high 16 bits are a Unix mode. */
const HOST_UNIX = 3;
/** Fixed part of a local file header; the lower bound of the space before an entry's data. */
const LOCAL_HEADER_BYTES = 30;

/**
 * The rule a zip entry name breaks, or null. Pure. Stricter than yauzl's own check: it also
 * refuses `\`, control characters and empty or `.` segments, which unzip tools disagree on.
 */
export function zipNameRule(name: string, maxPathBytes: number): string | null {
  if (name === "") return "must not be empty";
  if (/^([/\\]|[A-Za-z]:)/.test(name)) return "must be a relative path (it is absolute)";
  const shared = pathRule(name, maxPathBytes);
  if (shared) return shared;
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  if (segments.includes(".."))
    return "must stay inside the extraction folder (it has a '..' segment)";
  if (segments.some((s) => s === "" || s === ".")) {
    return "must be a normalized path (no empty or '.' segments)";
  }
  return null;
}

/** The rule an entry's type breaks given its Unix mode (0 when not made on Unix), or null. */
function typeRule(unixMode: number, isDirName: boolean, size: number): string | null {
  const type = unixMode & S_IFMT;
  if (type === S_IFLNK)
    return "must not be a symlink (Batch's unpacking is not documented to keep them)";
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    return "must be a regular file or a directory (it is a fifo, socket or device)";
  }
  if (type === S_IFDIR && !isDirName) return "must end with '/' (its mode says it is a directory)";
  if (isDirName && size !== 0) return "must be empty (it is a directory entry)";
  return null;
}

interface Checked {
  zip: yauzl.ZipFile;
  raw: yauzl.Entry[];
  listing: ZipListing;
}

function unreadable(zipPath: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new InputError("zip", zipPath, "must be an existing file");
  return new InputError(
    "zip",
    zipPath,
    `must be a readable zip archive (${(err as Error).message})`,
  );
}

/** Opens the zip and checks everything the central directory tells. The caller closes `zip`. */
async function readChecked(zipPath: string, limits: Partial<PackageLimits>): Promise<Checked> {
  const lim = resolveLimits(limits);
  let zip: yauzl.ZipFile;
  try {
    // Names are decoded and validated here (decodeStrings: false) for messages naming the rule.
    zip = await yauzl.openPromise(zipPath, {
      decodeStrings: false,
      autoClose: false,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw unreadable(zipPath, err);
  }
  try {
    if (zip.entryCount > lim.maxEntries) {
      throw new InputError(
        "zip",
        zipPath,
        `must hold at most ${lim.maxEntries} entries (limits.maxEntries); it declares ${zip.entryCount}`,
      );
    }
    const entryError = (name: string, rule: string) =>
      new InputError(`path in zip ${JSON.stringify(zipPath)}`, name, rule);
    const raw: yauzl.Entry[] = [];
    const entries: ZipEntryInfo[] = [];
    const seen = new Set<string>();
    const dirs = new Set<string>();
    let uncompressedBytes = 0;
    const iterator = zip.eachEntry();
    for (;;) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw unreadable(zipPath, err);
      }
      if (next.done) break;
      const entry = next.value;
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        true,
      );
      const nameRule = zipNameRule(name, lim.maxPathBytes);
      if (nameRule) throw entryError(name, nameRule);
      if (entry.isEncrypted()) throw entryError(name, "must not be encrypted");
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        throw entryError(
          name,
          `must be stored or deflated (compression method ${entry.compressionMethod} is not)`,
        );
      }
      const unixMode =
        entry.versionMadeBy >> 8 === HOST_UNIX ? entry.externalFileAttributes >>> 16 : 0;
      const isDir = name.endsWith("/");
      const broken = typeRule(unixMode, isDir, entry.uncompressedSize);
      if (broken) throw entryError(name, broken);
      const key = isDir ? name.slice(0, -1) : name;
      if (seen.has(key)) throw entryError(name, "must appear once (it is a duplicate)");
      seen.add(key);
      if (isDir) dirs.add(key);
      const parts = key.split("/");
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
      const perms = unixMode & 0o777;
      entries.push({
        name,
        kind: isDir ? "directory" : "file",
        mode: perms !== 0 ? perms : isDir ? 0o755 : 0o644,
        size: entry.uncompressedSize,
        compressedSize: entry.compressedSize,
        crc32: entry.crc32,
      });
      raw.push(entry);
      uncompressedBytes += entry.uncompressedSize;
    }
    for (const e of entries) {
      if (e.kind === "file" && dirs.has(e.name)) {
        throw entryError(e.name, "must not be both a file and a directory");
      }
    }
    if (uncompressedBytes > lim.maxTotalBytes) {
      throw new InputError(
        "zip",
        zipPath,
        `must hold at most ${lim.maxTotalBytes} bytes uncompressed (limits.maxTotalBytes); its entries declare ${uncompressedBytes}`,
      );
    }
    if (
      uncompressedBytes > RATIO_FLOOR_BYTES &&
      uncompressedBytes > lim.maxCompressionRatio * zip.fileSize
    ) {
      throw new InputError(
        "zip",
        zipPath,
        `must not expand more than ${lim.maxCompressionRatio} times (limits.maxCompressionRatio); its ${zip.fileSize} bytes declare ${uncompressedBytes} (a zip bomb?)`,
      );
    }
    // Entries sharing compressed data are how a small zip declares huge sizes (Fifield's
    // non-recursive bomb): every entry's header and data must lie before the next entry's.
    const spans = raw
      .map((e) => ({
        start: e.relativeOffsetOfLocalHeader,
        end:
          e.relativeOffsetOfLocalHeader + LOCAL_HEADER_BYTES + e.fileNameLength + e.compressedSize,
      }))
      .sort((a, b) => a.start - b.start);
    for (let i = 0; i < spans.length; i++) {
      const limit = i + 1 < spans.length ? spans[i + 1].start : zip.fileSize;
      if (spans[i].end > limit) {
        throw new InputError(
          "zip",
          zipPath,
          "must not have overlapping entries (a zip bomb reuses compressed data)",
        );
      }
    }
    const files = entries.filter((e) => e.kind === "file").length;
    return {
      zip,
      raw,
      listing: {
        path: zipPath,
        bytes: zip.fileSize,
        entries,
        files,
        directories: entries.length - files,
        uncompressedBytes,
      },
    };
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** Lists and checks a zip without extracting it. Throws InputError for anything refused. */
export async function inspectZip(
  zipPath: string,
  limits: Partial<PackageLimits> = {},
): Promise<ZipListing> {
  const { zip, listing } = await readChecked(zipPath, limits);
  zip.close();
  return listing;
}

/** Computes the CRC-32 of the bytes through it. */
class Crc32Tap extends Transform {
  crc = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    cb(null, chunk);
  }
}

function inside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== "" && !rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel);
}

/**
 * Checks the zip as `inspectZip` does, then unpacks it into `dest` (created if missing; must be
 * empty): files get their zip mode's permission bits, directories theirs plus owner rwx (so the
 * tree can still be cleaned up). Each entry's size and CRC-32 are verified. On any failure what
 * was written is removed. Returns the listing.
 */
export async function extractZip(
  zipPath: string,
  dest: string,
  limits: Partial<PackageLimits> = {},
): Promise<ZipListing> {
  const { zip, raw, listing } = await readChecked(zipPath, limits);
  let created = false;
  let root: string | undefined;
  try {
    try {
      const existing = await fs.readdir(dest);
      if (existing.length > 0) {
        throw new InputError("extraction folder", dest, "must be empty or not exist");
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR")
        throw new InputError("extraction folder", dest, "must be a directory");
      if (code !== "ENOENT") throw err;
      await fs.mkdir(dest, { recursive: true });
      created = true;
    }
    root = await fs.realpath(dest);
    const dirModes: Array<[string, number]> = [];
    for (let i = 0; i < raw.length; i++) {
      const info = listing.entries[i];
      const target = path.join(root, ...info.name.split("/").filter((s) => s !== ""));
      if (!inside(root, target)) throw new Error(`${info.name} escapes ${dest}`); // checked above
      if (info.kind === "directory") {
        await fs.mkdir(target, { recursive: true });
        dirModes.push([target, info.mode | 0o700]);
        continue;
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await extractFile(zipPath, zip, raw[i], info, target);
    }
    // Deepest first, after the files, so a read-only directory does not block its contents.
    for (const [dir, mode] of dirModes.reverse()) await fs.chmod(dir, mode);
    return listing;
  } catch (err) {
    if (root !== undefined || created) await removeExtracted(root ?? dest, created);
    throw err;
  } finally {
    zip.close();
  }
}

async function extractFile(
  zipPath: string,
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  info: ZipEntryInfo,
  target: string,
): Promise<void> {
  const corrupt = (why: string) =>
    new InputError("zip", zipPath, `must be intact (entry ${JSON.stringify(info.name)}: ${why})`);
  let input;
  try {
    input = await zip.openReadStreamPromise(entry);
  } catch (err) {
    throw corrupt((err as Error).message);
  }
  let readFailed: Error | undefined;
  input.on("error", (err: Error) => (readFailed = err));
  const tap = new Crc32Tap();
  // `wx`: never follow or replace anything already at the path.
  const out = createWriteStream(target, { flags: "wx", mode: 0o600 });
  try {
    await pipeline(input, tap, out);
  } catch (err) {
    if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
    // yauzl's stream fails on bad deflate data and on sizes that differ from the declared ones.
    if (readFailed) throw corrupt(readFailed.message);
    throw err;
  }
  if (tap.crc !== info.crc32) throw corrupt("its CRC-32 does not match");
  await fs.chmod(target, info.mode);
}

/** Removes what extraction wrote: the folder if it created it, else the folder's contents. */
async function removeExtracted(dir: string, created: boolean): Promise<void> {
  if (created) {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
}
