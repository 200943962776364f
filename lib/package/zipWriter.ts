/**
 * A minimal, reproducible ZIP writer (PKWARE APPNOTE 6.3.x) with pigz-style parallel deflate.
 *
 * What it writes, and nothing else:
 * - per entry a local file header (4.3.7) carrying the real CRC-32 and sizes (no data descriptor,
 *   general purpose bit 3 clear), then the entry's data; no extra fields, no comments;
 * - a central directory (4.3.12) in the order entries were added, then the end of central
 *   directory record (4.3.16). No ZIP64: anything that would need it is refused (`Zip64Error`);
 * - every timestamp is the DOS time 1980-01-01 00:00:00 (date 0x0021, time 0), written as fixed
 *   numbers, so the bytes cannot depend on the clock or the time zone;
 * - "made by" Unix (3) / spec 6.3 with the Unix mode in the high 16 bits of the external
 *   attributes (plus the MS-DOS directory bit for directories, as Info-ZIP does); names in UTF-8
 *   with general purpose bit 11 set (as yazl did);
 * - directories and empty files are stored (method 0, no data), every other file is deflated
 *   (method 8), even when deflate cannot shrink it. Info-ZIP rewinds and stores such a file
 *   instead; here the cost is deflate's stored-block framing, 5 bytes per 16 KiB block plus 5 per
 *   1 MiB piece (random data grows by 0.031%), and in exchange every file is read exactly once
 *   and the writer never rewinds over data it has written.
 *
 * Parallel deflate (the idea of pigz): a file is cut into fixed `chunkSize` pieces; each piece is
 * compressed by its own async `zlib.deflateRaw` call (libuv's threadpool, so pieces compress on
 * several cores at once), primed with the previous piece's last 32 KiB as the preset dictionary
 * (so matches may reach back across the cut, exactly as the decoder's 32 KiB window allows) and
 * ended with Z_SYNC_FLUSH (byte-aligned, no final-block bit), except the last piece, ended with
 * Z_FINISH. The concatenation of the pieces is one valid raw deflate stream. Each piece's output
 * depends only on its input, its dictionary, the level and the chunk size, never on which piece
 * finishes first: outputs are consumed strictly in order, so the zip's bytes are the same for any
 * `concurrency`. At most `concurrency` pieces compress at once and at most 2 x `concurrency` are
 * held (compressing, or done and waiting for an older one), each with its input and output:
 * about 16 MiB with the defaults, whatever the file's size.
 *
 * The local header precedes the data but holds the CRC and compressed size, known only afterwards:
 * the header's space is reserved, the data written behind it as it is produced, and the header
 * written into its place once the entry is complete. The zip's SHA-256 is computed in file order:
 * an entry's compressed bytes are held in memory (up to `holdBytes`) until its header is known;
 * an entry that compresses to more than that is not held, and the file is hashed by reading it
 * back once finished (the 68 MB ffmpeg compresses to about 24 MB: held).
 *
 * The deflate stream comes from Node.js's bundled zlib: another zlib (another Node.js version, or
 * one without the same CPU-specific paths) may pick different, equally valid, matches.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as zlib from "node:zlib";
import { sha256File } from "../core/fileDigest";
import { crc32 } from "./crc32";

/** ZIP32 fields of 4 bytes: 0xFFFFFFFF means "see ZIP64", so the largest plain value is one less. */
export const MAX_ZIP32_BYTES = 0xffff_fffe;
/** The entry count field: 0xFFFF means "see ZIP64" (yauzl and others then look for it). */
export const MAX_ZIP32_ENTRIES = 0xfffe;
/** deflate's window: how far back a match may reach, and so the useful dictionary size. */
const WINDOW_BYTES = 32 * 1024;
/**
 * Default piece size: large enough that the per-piece cost (dictionary priming, the 5-byte sync
 * marker, a threadpool round trip) is negligible, small enough to spread a file over the cores.
 */
export const DEFAULT_CHUNK_SIZE = 1 << 20;
/** Default most compressed bytes of one entry held in memory for hashing in order. */
export const DEFAULT_HOLD_BYTES = 64 << 20;
/** Appended bytes are gathered and written in batches of about this size. */
const WRITE_BATCH_BYTES = 1 << 20;
const WRITE_BATCH_BUFFERS = 256;

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_OF_CENTRAL_DIRECTORY_BYTES = 22;
/** Host 3 (Unix: external attributes carry st_mode), spec version 6.3 (bit 11 = UTF-8 names). */
const VERSION_MADE_BY = (3 << 8) | 63;
const VERSION_NEEDED_STORED = 10;
const VERSION_NEEDED_DEFLATE = 20;
/** General purpose bit 11: the name is UTF-8. */
const FLAG_UTF8 = 1 << 11;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** MS-DOS time 00:00:00 and date 1980-01-01 ((1980 - 1980) << 9 | 1 << 5 | 1). */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** The MS-DOS "directory" attribute in the low byte of the external attributes. */
const MSDOS_DIRECTORY = 0x10;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

// ---- errors ------------------------------------------------------------------------------------

/** The zip would need ZIP64, which this writer does not write (packages stay below its limits). */
export class Zip64Error extends Error {
  constructor(what: string) {
    super(`the zip would need ZIP64, which hpc-batch does not write: ${what}`);
    this.name = "Zip64Error";
  }
}

// ---- deflate -----------------------------------------------------------------------------------

/**
 * Deflates one piece on the threadpool. `dictionary` is the previous piece's last 32 KiB (none for
 * the first); `last` ends the stream (Z_FINISH), else it is sync-flushed so the next piece's
 * output can follow it byte-aligned. The output buffer is sized so zlib finishes in one pass.
 */
function deflatePiece(
  input: Buffer,
  level: number,
  dictionary: Buffer | undefined,
  last: boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(
      input,
      {
        level,
        dictionary,
        finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
        chunkSize: input.length + (input.length >>> 6) + 1024,
      },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

/** One piece handed to the pool. */
interface DeflateJob {
  done: boolean;
  output?: Buffer;
  error?: { reason: unknown };
}

// ---- the writer --------------------------------------------------------------------------------

export interface ZipWriterOptions {
  /** Deflate level, 1 (fastest) to 9 (smallest). Part of the bytes. */
  level: number;
  /**
   * Piece size for parallel deflate, at least 32 KiB. Part of the bytes (each cut costs a few
   * bytes and resets the match finder's history to 32 KiB). Default `DEFAULT_CHUNK_SIZE` (1 MiB).
   */
  chunkSize?: number;
  /** Pieces compressing at once. Not part of the bytes. Default `defaultConcurrency()`. */
  concurrency?: number;
  /** Most compressed bytes of one entry held for hashing in order. Not part of the bytes. */
  holdBytes?: number;
  /**
   * Called after each write to the file with what is final so far, for a reader that follows the
   * file as it grows. Not part of the bytes.
   */
  onWritten?: (written: WrittenSoFar) => void;
}

/** The options with their defaults; the callback stays optional. */
type ResolvedZipWriterOptions = Required<Omit<ZipWriterOptions, "onWritten">> &
  Pick<ZipWriterOptions, "onWritten">;

/**
 * What of the file is final: the bytes before `upTo` are written, except the local header
 * reserved in `hole` (start, end) for the entry being written, filled once it is complete. Later
 * writes never change a final byte.
 */
export interface WrittenSoFar {
  upTo: number;
  hole?: [number, number];
}

export interface ZipFileOptions {
  /** Unix mode with its type bits (0o100644, 0o100755); regular-file type added when missing. */
  mode: number;
  /** The size the file must have: a file that is shorter or longer when read fails the zip. */
  size: number;
  /** Called after each piece is read with its size in bytes. */
  onRead?: (bytes: number) => void;
}

export interface ZipResult {
  /** Size of the zip in bytes. */
  bytes: number;
  /** Hex SHA-256 of the zip's bytes. */
  sha256: string;
  entries: number;
}

interface CentralEntry {
  name: Buffer;
  method: number;
  versionNeeded: number;
  crc: number;
  compressedSize: number;
  size: number;
  externalAttributes: number;
  offset: number;
}

/**
 * Pieces compressing at once by default: the cores Node.js may use plus 2, at most the libuv
 * threadpool's size (UV_THREADPOOL_SIZE, default 4). Finished pieces wait for older ones to be
 * written, so a few more pieces than cores keep every core busy: on 2 cores, 4 pieces took 0.51 s
 * for the staged ffmpeg at level 4, 3 took 0.54 s, 2 took 0.58 s (median of 9).
 */
export function defaultConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(os.availableParallelism() + 2, pool));
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

/**
 * Writes one zip file. Add entries one at a time (await each), then `finish()`; on any failure
 * call `abort()` and delete the file: a failed writer leaves a partial file behind.
 */
export class ZipWriter {
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly concurrency: number;
  private readonly holdBytes: number;
  private readonly onWritten?: (written: WrittenSoFar) => void;
  /** The reserved, not yet written, local header of the entry being deflated. */
  private hole?: [number, number];
  private readonly central: CentralEntry[] = [];
  private readonly hash = createHash("sha256");
  /** False once an entry was too large to hold: the file is then hashed by reading it back. */
  private hashInOrder = true;
  /**
   * Piece buffers, reused from piece to piece and entry to entry: fresh memory costs a page
   * fault per 4 KiB on first touch (lib/core/fileDigest), 68 MB of it for ffmpeg.
   */
  private readonly pieceBuffers: Buffer[] = [];
  /** Offset of the next byte appended. */
  private pos = 0;
  /** Appended bytes not yet written, starting at `pendingAt`. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingAt = 0;
  private busy = false;
  /** "failed": a step threw; the file may be inconsistent, only `abort()` is left. */
  private state: "open" | "failed" | "finished" | "closed" = "open";

  private constructor(
    private readonly fh: fs.FileHandle,
    readonly path: string,
    opts: ResolvedZipWriterOptions,
  ) {
    this.level = opts.level;
    this.chunkSize = opts.chunkSize;
    this.concurrency = opts.concurrency;
    this.holdBytes = opts.holdBytes;
    this.onWritten = opts.onWritten;
  }

  /** Checks `opts` (RangeError), then creates (or truncates) `file` and returns its writer. */
  static async create(file: string, opts: ZipWriterOptions): Promise<ZipWriter> {
    const resolved: ResolvedZipWriterOptions = {
      level: checkInteger("level", opts.level, 1, 9),
      // The dictionary is the previous piece's last 32 KiB, so a piece holds at least that.
      chunkSize: checkInteger(
        "chunkSize",
        opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
        WINDOW_BYTES,
        1 << 30,
      ),
      concurrency: checkInteger("concurrency", opts.concurrency ?? defaultConcurrency(), 1, 64),
      holdBytes: checkInteger("holdBytes", opts.holdBytes ?? DEFAULT_HOLD_BYTES, 0, 2 ** 32),
      onWritten: opts.onWritten,
    };
    return new ZipWriter(await fs.open(file, "w"), file, resolved);
  }

  /** Adds a directory entry; `name` ends with `/`. */
  async addDirectory(name: string, mode = 0o040755): Promise<void> {
    await this.entry(async () => {
      const nameBytes = this.entryName(name, true);
      checkInteger(`mode of ${JSON.stringify(name)}`, mode, 0, 0xffff);
      const type = mode & S_IFMT || S_IFDIR;
      if (type !== S_IFDIR)
        throw new RangeError(`directory ${JSON.stringify(name)}: mode is not a directory's`);
      await this.addStored(nameBytes, ((mode | S_IFDIR) << 16) | MSDOS_DIRECTORY);
    });
  }

  /**
   * Adds the file at `source` as `name`, deflated (stored when empty). Reads it once, in pieces;
   * fails if it is not exactly `size` bytes long.
   */
  async addFile(name: string, source: string, opts: ZipFileOptions): Promise<void> {
    await this.entry(async () => {
      const nameBytes = this.entryName(name, false);
      checkInteger(`mode of ${JSON.stringify(name)}`, opts.mode, 0, 0xffff);
      const type = opts.mode & S_IFMT || S_IFREG;
      if (type !== S_IFREG)
        throw new RangeError(`file ${JSON.stringify(name)}: mode is not a regular file's`);
      const attributes = (opts.mode | S_IFREG) << 16;
      checkInteger(`size of ${JSON.stringify(name)}`, opts.size, 0, Number.MAX_SAFE_INTEGER);
      if (opts.size > MAX_ZIP32_BYTES) {
        throw new Zip64Error(
          `${JSON.stringify(name)} is ${opts.size} bytes, more than ${MAX_ZIP32_BYTES}`,
        );
      }
      const input = await fs.open(source, "r");
      try {
        if (opts.size === 0) {
          await expectEnd(input, name, 0, 0);
          opts.onRead?.(0);
          await this.addStored(nameBytes, attributes);
        } else {
          await this.addDeflated(nameBytes, attributes, input, opts);
        }
      } finally {
        await input.close();
      }
    });
  }

  /**
   * Writes the central directory and the end record, flushes the file to disk (fsync) and closes
   * it. Returns the zip's size and SHA-256.
   */
  async finish(): Promise<ZipResult> {
    let sha256 = "";
    await this.entry(async () => {
      const count = this.central.length;
      const cdOffset = this.pos;
      this.checkOffset(cdOffset, "the central directory");
      for (const e of this.central) {
        const h = Buffer.alloc(CENTRAL_HEADER_BYTES);
        h.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
        h.writeUInt16LE(VERSION_MADE_BY, 4);
        h.writeUInt16LE(e.versionNeeded, 6);
        h.writeUInt16LE(FLAG_UTF8, 8);
        h.writeUInt16LE(e.method, 10);
        h.writeUInt16LE(DOS_TIME, 12);
        h.writeUInt16LE(DOS_DATE, 14);
        h.writeUInt32LE(e.crc, 16);
        h.writeUInt32LE(e.compressedSize, 20);
        h.writeUInt32LE(e.size, 24);
        h.writeUInt16LE(e.name.length, 28);
        // 30 extra field length, 32 comment length, 34 disk number start, 36 internal
        // attributes: all 0.
        h.writeUInt32LE(e.externalAttributes >>> 0, 38);
        h.writeUInt32LE(e.offset, 42);
        await this.append(h, true);
        await this.append(e.name, true);
      }
      const cdSize = this.pos - cdOffset;
      this.checkOffset(this.pos, "the end of central directory record");
      const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_BYTES);
      end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
      // 4 number of this disk, 6 disk where the central directory starts: 0.
      end.writeUInt16LE(count, 8);
      end.writeUInt16LE(count, 10);
      end.writeUInt32LE(cdSize, 12);
      end.writeUInt32LE(cdOffset, 16);
      // 20 comment length: 0.
      await this.append(end, true);
      await this.flush();
      await this.fh.sync();
      this.state = "finished";
      await this.fh.close();
      if (this.hashInOrder) {
        sha256 = this.hash.digest("hex");
      } else {
        sha256 = (await sha256File(this.path)).sha256;
      }
    });
    return { bytes: this.pos, sha256, entries: this.central.length };
  }

  /** Closes the file after a failure (idempotent); the caller deletes it. */
  async abort(): Promise<void> {
    if (this.state === "finished" || this.state === "closed") return;
    this.state = "closed";
    await this.fh.close();
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Runs one step that needs the writer open and to itself (entries are written in order). */
  private async entry(step: () => Promise<void>): Promise<void> {
    if (this.state !== "open") throw new Error(`zip writer for ${this.path} is ${this.state}`);
    if (this.busy) throw new Error("zip writer: await each addFile/addDirectory before the next");
    this.busy = true;
    try {
      await step();
    } catch (err) {
      if (this.state === "open") this.state = "failed";
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private entryName(name: string, directory: boolean): Buffer {
    if (name === "" || name.startsWith("/") || name.endsWith("/") !== directory) {
      throw new RangeError(
        `zip entry name ${JSON.stringify(name)} must be relative and ${directory ? "end" : "not end"} with '/'`,
      );
    }
    const bytes = Buffer.from(name, "utf8");
    if (bytes.length > 0xffff) {
      throw new RangeError(`zip entry name ${JSON.stringify(name)} is longer than 65535 bytes`);
    }
    if (this.central.length >= MAX_ZIP32_ENTRIES) {
      throw new Zip64Error(`more than ${MAX_ZIP32_ENTRIES} entries`);
    }
    return bytes;
  }

  private checkOffset(offset: number, what: string) {
    if (offset > MAX_ZIP32_BYTES) {
      throw new Zip64Error(`${what} would start at byte ${offset}, past ${MAX_ZIP32_BYTES}`);
    }
  }

  private localHeader(e: CentralEntry): Buffer {
    const h = Buffer.alloc(LOCAL_HEADER_BYTES + e.name.length);
    h.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    h.writeUInt16LE(e.versionNeeded, 4);
    h.writeUInt16LE(FLAG_UTF8, 6);
    h.writeUInt16LE(e.method, 8);
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(e.crc, 14);
    h.writeUInt32LE(e.compressedSize, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(e.name.length, 26);
    // 28 extra field length: 0.
    e.name.copy(h, LOCAL_HEADER_BYTES);
    return h;
  }

  /** A directory or an empty file: stored, no data, CRC 0. */
  private addStored(name: Buffer, externalAttributes: number): Promise<void> {
    this.checkOffset(this.pos, `entry ${JSON.stringify(name.toString())}`);
    const e: CentralEntry = {
      name,
      method: METHOD_STORED,
      versionNeeded: VERSION_NEEDED_STORED,
      crc: 0,
      compressedSize: 0,
      size: 0,
      externalAttributes,
      offset: this.pos,
    };
    this.central.push(e);
    return this.append(this.localHeader(e), true);
  }

  private async addDeflated(
    name: Buffer,
    externalAttributes: number,
    input: fs.FileHandle,
    opts: ZipFileOptions,
  ) {
    const label = name.toString();
    const offset = this.pos;
    this.checkOffset(offset, `entry ${JSON.stringify(label)}`);
    // Reserve the local header's place; it is written once the CRC and sizes are known.
    await this.flush();
    this.pos += LOCAL_HEADER_BYTES + name.length;
    this.pendingAt = this.pos;
    this.hole = [offset, this.pos];
    const dataStart = this.pos;

    let held: Buffer[] | undefined = this.hashInOrder ? [] : undefined;
    let heldBytes = 0;
    const emit = async (out: Buffer) => {
      await this.append(out, false);
      if (this.pos - dataStart > MAX_ZIP32_BYTES) {
        throw new Zip64Error(
          `${JSON.stringify(label)} compresses to more than ${MAX_ZIP32_BYTES} bytes`,
        );
      }
      if (held) {
        heldBytes += out.length;
        if (heldBytes <= this.holdBytes) {
          held.push(out);
        } else {
          held = undefined; // too big to hold: hash the finished file instead
          this.hashInOrder = false;
        }
      }
    };

    // Pieces handed to the pool, in file order, until written. At most `concurrency` compress at
    // once; finished ones wait for the older ones (at most 2 x concurrency pieces in all), so a
    // slow piece does not leave a core idle, yet the output is consumed strictly in order.
    const jobs: DeflateJob[] = [];
    const window = 2 * this.concurrency;
    let running = 0;
    let wake: (() => void) | undefined;
    const settle = () => {
      running -= 1;
      wake?.();
    };
    const waitForOne = () => new Promise<void>((resolve) => (wake = resolve));
    /** Writes finished pieces at the head; returns when `ready()` or after waiting for one. */
    const drain = async (ready: () => boolean) => {
      for (;;) {
        while (jobs.length > 0 && jobs[0].done) {
          const job = jobs.shift() as DeflateJob;
          if (job.error) throw job.error.reason;
          await emit(job.output as Buffer);
        }
        if (ready()) return;
        await waitForOne();
      }
    };

    const pieces = Math.ceil(opts.size / this.chunkSize);
    let crc = 0;
    let read = 0;
    let previous: Buffer | undefined;
    try {
      for (let i = 0; i < pieces; i++) {
        // Read the next piece while earlier ones compress.
        const length = Math.min(this.chunkSize, opts.size - read);
        // The ring's slot of piece i - ring is free again: at most `window` jobs are pending
        // (pieces i - window .. i - 1), and each reads its predecessor as its dictionary.
        const slot = i % (window + 2);
        this.pieceBuffers[slot] ??= Buffer.allocUnsafe(this.chunkSize);
        const piece = await readExactly(
          input,
          this.pieceBuffers[slot].subarray(0, length),
          read,
          label,
          opts.size,
        );
        read += length;
        const last = i === pieces - 1;
        if (last) await expectEnd(input, label, opts.size, read);
        crc = crc32(piece, crc);
        opts.onRead?.(length);
        await drain(() => running < this.concurrency && jobs.length < window);
        const dictionary = previous?.subarray(previous.length - WINDOW_BYTES);
        const job: DeflateJob = { done: false };
        running += 1;
        deflatePiece(piece, this.level, dictionary, last).then(
          (output) => {
            Object.assign(job, { done: true, output });
            settle();
          },
          (reason: unknown) => {
            Object.assign(job, { done: true, error: { reason } });
            settle();
          },
        );
        jobs.push(job);
        previous = piece;
      }
      await drain(() => jobs.length === 0);
    } finally {
      // On failure, let the pieces still compressing finish before the file is closed/removed.
      while (running > 0) await waitForOne();
    }

    const e: CentralEntry = {
      name,
      method: METHOD_DEFLATE,
      versionNeeded: VERSION_NEEDED_DEFLATE,
      crc,
      compressedSize: this.pos - dataStart,
      size: opts.size,
      externalAttributes,
      offset,
    };
    const header = this.localHeader(e);
    // The data before the header is written first, so a follower never sees the header filled
    // in ahead of data it describes that is not on disk yet.
    await this.flush();
    await writeFully(this.fh, [header], offset);
    this.hole = undefined;
    this.notifyWritten();
    this.central.push(e);
    if (held) {
      this.hash.update(header);
      for (const b of held) this.hash.update(b);
    }
  }

  /**
   * Appends `buf` at the end of the file (batched). `hashNow`: the bytes are final and everything
   * before them is hashed, so hash them now; else the caller hashes them with their entry.
   */
  private async append(buf: Buffer, hashNow: boolean) {
    if (hashNow && this.hashInOrder) this.hash.update(buf);
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    this.pos += buf.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES || this.pending.length >= WRITE_BATCH_BUFFERS) {
      await this.flush();
    }
  }

  /** Writes the appended bytes not yet written. */
  private async flush() {
    const batch = this.pending;
    const at = this.pendingAt;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingAt = this.pos;
    if (batch.length > 0) {
      await writeFully(this.fh, batch, at);
      this.notifyWritten();
    }
  }

  private notifyWritten() {
    // The bytes before the batch being gathered are on disk (or in the reserved hole).
    this.onWritten?.({ upTo: this.pendingAt, hole: this.hole && [...this.hole] });
  }
}

/** Writes `buffers` at `position`, retrying short writes. */
async function writeFully(fh: fs.FileHandle, buffers: Buffer[], position: number) {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const total = rest.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(rest, at);
    if (bytesWritten >= total) return;
    rest = [Buffer.concat(rest).subarray(bytesWritten)];
    at += bytesWritten;
  }
}

function changedError(name: string, expected: number, detail: string): Error {
  // The first words are those yazl used, which callers and tests already know.
  return new Error(
    `file data stream has unexpected number of bytes: ${JSON.stringify(name)} was ${expected} bytes when listed, ${detail} (it changed while being zipped)`,
  );
}

/** Fills `buf` with the bytes at `position`, or fails: the file shrank. */
async function readExactly(
  fh: fs.FileHandle,
  buf: Buffer,
  position: number,
  name: string,
  expected: number,
): Promise<Buffer> {
  const length = buf.length;
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw changedError(name, expected, `only ${position + got} read`);
    got += bytesRead;
  }
  return buf;
}

/** Fails if the file has bytes past `position`: it grew. */
async function expectEnd(fh: fs.FileHandle, name: string, expected: number, position: number) {
  const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, position);
  if (bytesRead !== 0) throw changedError(name, expected, "now longer");
}
