import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as yauzl from "yauzl";
import {
  DEFAULT_CHUNK_SIZE,
  MAX_ZIP32_BYTES,
  MAX_ZIP32_ENTRIES,
  Zip64Error,
  ZipWriter,
  ZipWriterOptions,
  defaultConcurrency,
} from "../../../lib/package/zipWriter";
import { crc32, crc32Js } from "../../../lib/package/crc32";
import { pseudoRandom } from "../../support/pseudoRandom";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-zipwriter-"));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The longest text made so far: a shorter one is its start (the words do not depend on size). */
let text = Buffer.alloc(0);
/** Text-like content: compressible, with matches at every distance up to the window. */
function textLike(size: number): Buffer {
  if (text.length < size) {
    const words = ["ffmpeg ", "batch ", "pool ", "node ", "task\n", "zip ", "deflate ", "0123 "];
    const parts: string[] = [];
    let n = 0;
    for (let i = 0; n < size; i++) {
      const w = words[(i * 7 + (i >> 3)) % words.length] + (i % 97 === 0 ? `${i} ` : "");
      parts.push(w);
      n += w.length;
    }
    text = Buffer.from(parts.join(""));
  }
  return Buffer.from(text.subarray(0, size)); // a copy: a test may change it
}

interface Spec {
  name: string;
  /** Content for files; omitted for directories (names ending in `/`). */
  data?: Buffer;
  mode?: number;
}

/** Writes every spec's content under tmp/src and zips them, in order, into `zipName`. */
async function writeZip(zipName: string, specs: Spec[], opts: Partial<ZipWriterOptions> = {}) {
  const src = path.join(tmp, "src");
  const zipPath = path.join(tmp, zipName);
  const writer = await ZipWriter.create(zipPath, { level: 4, ...opts });
  for (const [i, s] of specs.entries()) {
    if (s.data === undefined) {
      await writer.addDirectory(s.name, s.mode ?? 0o040755);
    } else {
      const file = path.join(src, String(i));
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(file, s.data);
      await writer.addFile(s.name, file, { mode: s.mode ?? 0o100644, size: s.data.length });
    }
  }
  const result = await writer.finish();
  return { zipPath, result };
}

interface ReadBack {
  name: string;
  method: number;
  flags: number;
  mode: number;
  dosAttributes: number;
  crc: number;
  compressedSize: number;
  size: number;
  content: Buffer;
  /** The local header's fields, read from the file. */
  local: { flags: number; method: number; crc: number; compressedSize: number; size: number };
  extra: number;
  date: number;
  time: number;
}

/** Re-reads a zip with yauzl (contents included) and each entry's local header by hand. */
async function readBack(zipPath: string): Promise<ReadBack[]> {
  const bytes = fs.readFileSync(zipPath);
  const zip = await yauzl.openPromise(zipPath);
  const out: ReadBack[] = [];
  for await (const e of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    if (!e.fileName.endsWith("/")) {
      for await (const c of await zip.openReadStreamPromise(e)) chunks.push(c as Buffer);
    }
    const at = e.relativeOffsetOfLocalHeader;
    expect(bytes.readUInt32LE(at)).toBe(0x04034b50);
    out.push({
      name: e.fileName,
      method: e.compressionMethod,
      flags: e.generalPurposeBitFlag,
      mode: e.externalFileAttributes >>> 16,
      dosAttributes: e.externalFileAttributes & 0xff,
      crc: e.crc32,
      compressedSize: e.compressedSize,
      size: e.uncompressedSize,
      content: Buffer.concat(chunks),
      local: {
        flags: bytes.readUInt16LE(at + 6),
        method: bytes.readUInt16LE(at + 8),
        crc: bytes.readUInt32LE(at + 14),
        compressedSize: bytes.readUInt32LE(at + 18),
        size: bytes.readUInt32LE(at + 22),
      },
      extra: e.extraFieldLength + bytes.readUInt16LE(at + 28),
      date: e.lastModFileDate,
      time: e.lastModFileTime,
    });
  }
  return out;
}

function unzipTest(zipPath: string): string {
  return execFileSync("unzip", ["-tq", zipPath], { encoding: "utf8" });
}

function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Checks a zip end to end: Info-ZIP's test, yauzl's contents, headers, hash and size. */
async function verify(zipPath: string, result: { bytes: number; sha256: string }, specs: Spec[]) {
  expect(unzipTest(zipPath)).toContain("No errors detected");
  expect(result).toMatchObject({ bytes: fs.statSync(zipPath).size, sha256: sha256(zipPath) });
  const entries = await readBack(zipPath);
  expect(entries.map((e) => e.name)).toEqual(specs.map((s) => s.name));
  for (const [i, e] of entries.entries()) {
    const s = specs[i];
    const data = s.data ?? Buffer.alloc(0);
    expect(e.content.equals(data)).toBe(true);
    expect(e.crc).toBe(zlib.crc32(data));
    expect(e.size).toBe(data.length);
    // Sizes and CRC are in the local header too (no data descriptor, bit 3 clear).
    expect(e.local).toEqual({
      flags: e.flags,
      method: e.method,
      crc: e.crc,
      compressedSize: e.compressedSize,
      size: e.size,
    });
    expect(e.flags).toBe(0x0800);
    expect([e.date, e.time, e.extra]).toEqual([33, 0, 0]);
    if (s.data === undefined) {
      expect([e.method, e.compressedSize, e.mode, e.dosAttributes]).toEqual([
        0,
        0,
        s.mode ?? 0o040755,
        0x10,
      ]);
    } else {
      expect(e.method).toBe(data.length === 0 ? 0 : 8);
      expect([e.mode, e.dosAttributes]).toEqual([s.mode ?? 0o100644, 0]);
    }
  }
  return entries;
}

const MiB = 1 << 20;

describe.each([
  ["the default 1 MiB chunks", DEFAULT_CHUNK_SIZE],
  ["the smallest chunks (32 KiB)", 32 * 1024],
])("edge cases with %s", (_label, chunkSize) => {
  const random = pseudoRandom(3 * MiB + 123, 7);
  const cases: [string, Spec][] = [
    ["an empty file (stored, no data)", { name: "empty.txt", data: Buffer.alloc(0) }],
    ["a 0-byte directory entry", { name: "dir/" }],
    ["a nested 0-byte directory entry", { name: "dir/sub/" }],
    ["a 1-byte file", { name: "dir/one", data: Buffer.from("x"), mode: 0o100755 }],
    ["a file one byte short of a chunk", { name: "c-1", data: textLike(chunkSize - 1) }],
    ["a file exactly one chunk", { name: "c", data: textLike(chunkSize) }],
    ["a file one byte past a chunk", { name: "c+1", data: textLike(chunkSize + 1) }],
    ["a file exactly two chunks", { name: "2c", data: textLike(2 * chunkSize) }],
    ["a file two chunks and one byte", { name: "2c+1", data: textLike(2 * chunkSize + 1) }],
    ["a highly compressible multi-MiB file", { name: "zeros", data: Buffer.alloc(5 * MiB) }],
    ["an incompressible multi-MiB file", { name: "random", data: random }],
    ["a UTF-8 name", { name: "dir/été ✓.txt", data: Buffer.from("accents\n") }],
  ];

  test.each(cases)("%s", async (_what, spec) => {
    const specs = spec.data === undefined ? [spec] : [{ name: "before/" }, spec, { name: "z/" }];
    const { zipPath, result } = await writeZip("t.zip", specs, { chunkSize });
    await verify(zipPath, result, specs);
  });

  test("all of them in one zip", async () => {
    const specs = cases.map(([, s]) => s);
    const { zipPath, result } = await writeZip("all.zip", specs, { chunkSize });
    const entries = await verify(zipPath, result, specs);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(result.entries).toBe(specs.length);
    // Highly compressible: 5 MiB of zeros deflates about 1000:1, cut into chunks or not.
    expect(byName.get("zeros")?.compressedSize).toBeLessThan(8 * 1024 + (5 * MiB) / chunkSize);
    // Incompressible: deflated anyway (documented); the cost is stored-block framing, 5 bytes per
    // block of at most 64 KiB, plus 5 bytes per chunk cut.
    const overhead = (byName.get("random")?.compressedSize as number) - random.length;
    expect(overhead).toBeGreaterThan(0);
    expect(overhead).toBeLessThan(random.length * 0.0005 + 5 * (random.length / chunkSize) + 64);
  });
});

test("each chunk is primed with the previous 32 KiB: matches reach across the cuts", async () => {
  // A 20 KiB random block repeated: only its first copy costs bytes, if and only if every chunk
  // sees the end of the previous one (without the dictionary, each chunk would cost >= 20 KiB).
  const block = pseudoRandom(20 * 1024, 3);
  const data = Buffer.concat(Array.from({ length: 40 }, () => block)); // 800 KiB, 25 chunks
  const specs = [{ name: "repeats", data }];
  const { zipPath, result } = await writeZip("r.zip", specs, { chunkSize: 32 * 1024 });
  const [entry] = await verify(zipPath, result, specs);
  // About what one deflate stream over the whole file gives (each 258-byte match costs ~3 bytes).
  const whole = zlib.deflateRawSync(data, { level: 4 }).length;
  expect(entry.compressedSize).toBeLessThan(whole + 25 * 64);
  expect(entry.compressedSize).toBeLessThan(1.5 * block.length);
});

describe("deterministic", () => {
  const specs: Spec[] = [
    { name: "bin/" },
    { name: "bin/tool", data: textLike(700 * 1024), mode: 0o100755 },
    { name: "data/" },
    {
      name: "data/mixed",
      data: Buffer.concat([
        textLike(300 * 1024),
        pseudoRandom(200 * 1024, 9),
        Buffer.alloc(150 * 1024),
        textLike(333 * 1024),
      ]),
    },
    { name: "data/random", data: pseudoRandom(400 * 1024, 11) },
  ];
  const chunkSize = 64 * 1024;

  test("1, 2 and 4 chunks compressing at once give the same bytes", async () => {
    const one = await writeZip("c1.zip", specs, { chunkSize, concurrency: 1 });
    const two = await writeZip("c2.zip", specs, { chunkSize, concurrency: 2 });
    const four = await writeZip("c4.zip", specs, { chunkSize, concurrency: 4 });
    await verify(one.zipPath, one.result, specs);
    const bytes = fs.readFileSync(one.zipPath);
    expect(fs.readFileSync(two.zipPath).equals(bytes)).toBe(true);
    expect(fs.readFileSync(four.zipPath).equals(bytes)).toBe(true);
    expect(new Set([one, two, four].map((z) => z.result.sha256)).size).toBe(1);
  });

  test("the same bytes whichever chunk finishes first", async () => {
    const inOrder = await writeZip("a.zip", specs, { chunkSize, concurrency: 1 });
    // Delay every deflate by a pseudo-random time, so chunks complete out of order.
    // The module object itself (lib/package/zipWriter looks `deflateRaw` up on it at each call).
    const nodeZlib = jest.requireActual<typeof zlib>("node:zlib");
    const real = nodeZlib.deflateRaw;
    let calls = 0;
    const delays: number[] = [];
    jest.spyOn(nodeZlib, "deflateRaw").mockImplementation(((
      buf: zlib.InputType,
      options: zlib.ZlibOptions,
      cb: zlib.CompressCallback,
    ) => {
      const delay = (calls++ * 37) % 11;
      delays.push(delay);
      real(buf, options, (err, out) => setTimeout(() => cb(err, out), delay));
    }) as never);
    const shuffled = await writeZip("b.zip", specs, { chunkSize, concurrency: 4 });
    expect(calls).toBeGreaterThan(20);
    expect(new Set(delays).size).toBeGreaterThan(5);
    expect(fs.readFileSync(shuffled.zipPath).equals(fs.readFileSync(inOrder.zipPath))).toBe(true);
  });

  test("a piece that waits for the pool keeps its bytes (the writer reuses piece buffers)", async () => {
    const inOrder = await writeZip("w1.zip", specs, { chunkSize: 32 * 1024, concurrency: 1 });
    // The real deflate starts late for the first piece of every four, so it reads its input and
    // dictionary after later pieces were read: a piece buffer reused too early shows in the bytes.
    const nodeZlib = jest.requireActual<typeof zlib>("node:zlib");
    const real = nodeZlib.deflateRaw;
    let calls = 0;
    jest.spyOn(nodeZlib, "deflateRaw").mockImplementation(((
      buf: zlib.InputType,
      options: zlib.ZlibOptions,
      cb: zlib.CompressCallback,
    ) => {
      setTimeout(() => real(buf, options, cb), calls++ % 4 === 0 ? 30 : 0);
    }) as never);
    const late = await writeZip("w2.zip", specs, { chunkSize: 32 * 1024, concurrency: 2 });
    expect(calls).toBeGreaterThan(40);
    expect(fs.readFileSync(late.zipPath).equals(fs.readFileSync(inOrder.zipPath))).toBe(true);
  });

  test("an entry too large to hold for hashing: same bytes, hash read back from the file", async () => {
    const held = await writeZip("held.zip", specs, { chunkSize });
    const streamed = await writeZip("streamed.zip", specs, { chunkSize, holdBytes: 0 });
    expect(fs.readFileSync(streamed.zipPath).equals(fs.readFileSync(held.zipPath))).toBe(true);
    expect(streamed.result).toEqual(held.result);
    expect(streamed.result.sha256).toBe(sha256(streamed.zipPath));
  });
});

test("a file that shrinks or grows after it was listed fails the zip", async () => {
  const file = path.join(tmp, "f");
  fs.writeFileSync(file, textLike(100_000));
  const attempt = async (size: number) => {
    const writer = await ZipWriter.create(path.join(tmp, `x${size}.zip`), {
      level: 4,
      chunkSize: 32 * 1024,
    });
    const err = await writer
      .addFile("f", file, { mode: 0o100644, size })
      .catch((e: unknown) => e as Error);
    // A failed writer refuses everything but abort().
    await expect(writer.addDirectory("d/")).rejects.toThrow("zip writer for");
    await writer.abort();
    return (err as Error).message;
  };
  expect(await attempt(100_001)).toBe(
    `file data stream has unexpected number of bytes: "f" was 100001 bytes when listed, only 100000 read (it changed while being zipped)`,
  );
  expect(await attempt(99_999)).toBe(
    `file data stream has unexpected number of bytes: "f" was 99999 bytes when listed, now longer (it changed while being zipped)`,
  );
  expect(await attempt(0)).toBe(
    `file data stream has unexpected number of bytes: "f" was 0 bytes when listed, now longer (it changed while being zipped)`,
  );
});

describe("no ZIP64: refused with an exact error", () => {
  test(`at most ${MAX_ZIP32_ENTRIES} entries`, async () => {
    const zipPath = path.join(tmp, "many.zip");
    const writer = await ZipWriter.create(zipPath, { level: 1 });
    for (let i = 0; i < MAX_ZIP32_ENTRIES; i++) await writer.addDirectory(`${i}/`);
    const err = await writer.addDirectory("one-too-many/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Zip64Error);
    expect((err as Error).message).toBe(
      "the zip would need ZIP64, which hpc-batch does not write: more than 65534 entries",
    );
    await writer.abort();

    // Exactly the maximum is a valid plain zip.
    const full = await ZipWriter.create(zipPath, { level: 1 });
    for (let i = 0; i < MAX_ZIP32_ENTRIES; i++) await full.addDirectory(`${i}/`);
    const result = await full.finish();
    expect(result.entries).toBe(65534);
    expect(unzipTest(zipPath)).toContain("No errors detected");
    expect((await yauzl.openPromise(zipPath)).entryCount).toBe(65534);
  });

  test("no file of 4 GiB or more", async () => {
    const big = path.join(tmp, "big");
    fs.writeFileSync(big, "");
    fs.truncateSync(big, 2 ** 32); // sparse: nothing is read, the size alone is refused
    const writer = await ZipWriter.create(path.join(tmp, "big.zip"), { level: 1 });
    const err = await writer
      .addFile("big", big, { mode: 0o100644, size: 2 ** 32 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Zip64Error);
    expect((err as Error).message).toBe(
      `the zip would need ZIP64, which hpc-batch does not write: "big" is 4294967296 bytes, more than ${MAX_ZIP32_BYTES}`,
    );
    await writer.abort();
  });
});

test("CRC-32: the JavaScript fallback matches zlib.crc32, in one call or continued", () => {
  const data = pseudoRandom(100_003, 5);
  expect(crc32Js(Buffer.alloc(0))).toBe(0);
  expect(crc32Js(Buffer.from("123456789"))).toBe(0xcbf43926); // the standard check value
  expect(crc32Js(data)).toBe(zlib.crc32(data));
  expect(crc32Js(data.subarray(50_000), crc32Js(data.subarray(0, 50_000)))).toBe(zlib.crc32(data));
  expect(crc32(data)).toBe(zlib.crc32(data)); // zlib's own on this Node.js
});

test("without zlib.crc32 (Node.js 20 before 20.15) the JavaScript CRC-32 gives the same zip", async () => {
  const specs: Spec[] = [{ name: "a/" }, { name: "a/b", data: textLike(200_000) }];
  const native = await writeZip("native.zip", specs, { chunkSize: 64 * 1024 });
  const nodeZlib = jest.requireActual<{ crc32?: unknown }>("node:zlib");
  const saved = nodeZlib.crc32;
  let fallback: typeof import("../../../lib/package/zipWriter") | undefined;
  // The writer's own CRC module, as loaded in the same fresh registry.
  let fallbackCrc: typeof import("../../../lib/package/crc32") | undefined;
  try {
    delete nodeZlib.crc32;
    await jest.isolateModulesAsync(async () => {
      fallback = await import("../../../lib/package/zipWriter");
      fallbackCrc = await import("../../../lib/package/crc32");
    });
  } finally {
    nodeZlib.crc32 = saved;
  }
  const mod = fallback as typeof import("../../../lib/package/zipWriter");
  expect(fallbackCrc?.crc32).toBe(fallbackCrc?.crc32Js);
  const zipPath = path.join(tmp, "fallback.zip");
  const writer = await mod.ZipWriter.create(zipPath, { level: 4, chunkSize: 64 * 1024 });
  await writer.addDirectory("a/");
  // writeZip left spec 1's content in src/1.
  await writer.addFile("a/b", path.join(tmp, "src", "1"), { mode: 0o100644, size: 200_000 });
  const result = await writer.finish();
  expect(result).toEqual(native.result);
  expect(fs.readFileSync(zipPath).equals(fs.readFileSync(native.zipPath))).toBe(true);
});

test("options and names are checked", async () => {
  const zipPath = path.join(tmp, "o.zip");
  await expect(ZipWriter.create(zipPath, { level: 0 })).rejects.toThrow(
    "level must be an integer from 1 to 9, not 0",
  );
  await expect(ZipWriter.create(zipPath, { level: 4, chunkSize: 1000 })).rejects.toThrow(
    "chunkSize must be an integer from 32768 to 1073741824, not 1000",
  );
  await expect(ZipWriter.create(zipPath, { level: 4, concurrency: 0 })).rejects.toThrow(
    "concurrency must be an integer from 1 to 64, not 0",
  );
  expect(fs.existsSync(zipPath)).toBe(false);
  expect(defaultConcurrency()).toBeGreaterThanOrEqual(1);

  const file = path.join(tmp, "f");
  fs.writeFileSync(file, "x");
  for (const [add, message] of [
    [(w: ZipWriter) => w.addDirectory("d"), `zip entry name "d" must be relative and end with '/'`],
    [(w: ZipWriter) => w.addDirectory("/d/"), `zip entry name "/d/" must be relative`],
    [
      (w: ZipWriter) => w.addFile("f/", file, { mode: 0o100644, size: 1 }),
      `zip entry name "f/" must be relative and not end with '/'`,
    ],
    [
      (w: ZipWriter) => w.addFile("f", file, { mode: 0o040755, size: 1 }),
      `file "f": mode is not a regular file's`,
    ],
  ] as const) {
    const w = await ZipWriter.create(zipPath, { level: 4 });
    await expect(add(w)).rejects.toThrow(message);
    await w.abort();
  }
});

describe("onWritten: what of the file is final while it is written", () => {
  /** Each deflated entry's local header range [offset, offset + 30 + name length), from the zip. */
  async function deflatedHeaders(zipPath: string): Promise<[number, number][]> {
    const zip = await yauzl.openPromise(zipPath);
    const out: [number, number][] = [];
    for await (const e of zip.eachEntry()) {
      if (e.compressionMethod !== 8) continue;
      const at = e.relativeOffsetOfLocalHeader;
      out.push([at, at + 30 + Buffer.byteLength(e.fileName)]);
    }
    return out;
  }

  test("bytes reported final never change, the hole is the header being deflated, the last call is the whole file", async () => {
    const specs: Spec[] = [
      { name: "d/" },
      { name: "d/empty", data: Buffer.alloc(0) },
      { name: "d/small", data: Buffer.from("small\n") },
      // Incompressible, in 32 KiB pieces: about 3 MiB of output, written in 1 MiB batches while
      // the entry's header is still a hole.
      { name: "d/big", data: pseudoRandom(3 * MiB + 123, 5) },
      { name: "e/" },
      { name: "e/text", data: textLike(700 * 1024) },
      { name: "e/empty2", data: Buffer.alloc(0) },
    ];
    const zipPath = path.join(tmp, "follow.zip");
    // What the file held at each call (read there and then), with what the call said was final.
    const seen: { upTo: number; hole?: [number, number]; now: Buffer }[] = [];
    const { result } = await writeZip("follow.zip", specs, {
      chunkSize: 32 * 1024,
      onWritten: (w) => seen.push({ ...w, now: fs.readFileSync(zipPath) }),
    });
    await verify(zipPath, result, specs);
    const final = fs.readFileSync(zipPath);

    for (const [i, { upTo, hole, now }] of seen.entries()) {
      expect(now.length).toBeGreaterThanOrEqual(upTo);
      if (i > 0) expect(upTo).toBeGreaterThanOrEqual(seen[i - 1].upTo);
      // Every byte before upTo but the hole is the final file's byte, as read at the call.
      const ranges: [number, number][] = hole
        ? [
            [0, hole[0]],
            [hole[1], upTo],
          ]
        : [[0, upTo]];
      if (hole) expect(hole[1]).toBeLessThanOrEqual(upTo);
      for (const [start, end] of ranges) {
        expect([
          i,
          start,
          end,
          now.subarray(start, end).equals(final.subarray(start, end)),
        ]).toEqual([i, start, end, true]);
      }
    }
    const last = seen[seen.length - 1];
    expect([last.upTo, last.hole, last.now.equals(final)]).toEqual([result.bytes, undefined, true]);

    // The holes, in order, are exactly the headers of the deflated entries (never a stored one's),
    // each closed (a call without a hole) before the next opens.
    const headers = await deflatedHeaders(zipPath);
    expect(headers).toHaveLength(3); // d/small, d/big, e/text
    const holes: [number, number][] = [];
    for (const [i, { hole }] of seen.entries()) {
      if (!hole) continue;
      const previous = holes[holes.length - 1];
      if (previous?.[0] !== hole[0]) {
        if (i > 0) expect(seen[i - 1].hole).toBeUndefined();
        holes.push(hole);
      } else {
        expect(hole).toEqual(previous);
      }
    }
    expect(holes).toEqual(headers);
    // The big entry's batches were reported while its header was still reserved.
    expect(seen.filter((s) => s.hole?.[0] === headers[1][0]).length).toBeGreaterThanOrEqual(3);
  });
});
