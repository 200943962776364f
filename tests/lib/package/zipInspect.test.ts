import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { InputError } from "../../../lib/core/errors";
import { PackageLimits } from "../../../lib/package/packageFolder";
import { buildPackage } from "../../../lib/package/zip";
import { extractZip, inspectZip, zipNameRule } from "../../../lib/package/zipInspect";
import { craftZip, type Crafted } from "../../support/craftZip";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-zipinspect-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, bytes: Buffer): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const text = (s: string) => Buffer.from(s);
const entryField = (zip: string) => `path in zip ${JSON.stringify(zip)}`;

interface Hostile {
  name: string;
  entries: Crafted[];
  limits?: Partial<PackageLimits>;
  message: (zip: string) => string;
}

const hostile: Hostile[] = [
  {
    name: "../evil",
    entries: [{ name: "../evil", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "../evil" is invalid: must stay inside the extraction folder (it has a '..' segment)`,
  },
  {
    name: "a '..' in the middle",
    entries: [{ name: "a/../../evil", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "a/../../evil" is invalid: must stay inside the extraction folder (it has a '..' segment)`,
  },
  {
    name: "an absolute path",
    entries: [{ name: "/etc/cron.d/evil", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "/etc/cron.d/evil" is invalid: must be a relative path (it is absolute)`,
  },
  {
    name: "a drive letter",
    entries: [{ name: "C:/evil", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "C:/evil" is invalid: must be a relative path (it is absolute)`,
  },
  {
    name: "backslashes",
    entries: [{ name: "a\\..\\..\\evil", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "a\\\\..\\\\..\\\\evil" is invalid: must not contain '\\' (a path separator on Windows, so the name could escape the extraction folder)`,
  },
  {
    name: "an empty segment",
    entries: [{ name: "a//b", data: text("x") }],
    message: (z) =>
      `${entryField(z)} "a//b" is invalid: must be a normalized path (no empty or '.' segments)`,
  },
  {
    name: "a symlink",
    entries: [{ name: "link", data: text("/etc/passwd"), mode: 0o120777 }],
    message: (z) =>
      `${entryField(z)} "link" is invalid: must not be a symlink (Batch's unpacking is not documented to keep them)`,
  },
  {
    name: "a fifo",
    entries: [{ name: "pipe", mode: 0o010644 }],
    message: (z) =>
      `${entryField(z)} "pipe" is invalid: must be a regular file or a directory (it is a fifo, socket or device)`,
  },
  {
    name: "an encrypted entry",
    entries: [{ name: "secret", data: text("xxxxxxxxxxxxx"), flags: 1, size: 1 }],
    message: (z) => `${entryField(z)} "secret" is invalid: must not be encrypted`,
  },
  {
    name: "bzip2 compression",
    entries: [{ name: "b.bz2", data: text("x"), method: 12 }],
    message: (z) =>
      `${entryField(z)} "b.bz2" is invalid: must be stored or deflated (compression method 12 is not)`,
  },
  {
    name: "a duplicate",
    entries: [
      { name: "a", data: text("1") },
      { name: "a", data: text("2") },
    ],
    message: (z) => `${entryField(z)} "a" is invalid: must appear once (it is a duplicate)`,
  },
  {
    name: "a path that is a file and a directory",
    entries: [
      { name: "a", data: text("1") },
      { name: "a/b", data: text("2") },
    ],
    message: (z) => `${entryField(z)} "a" is invalid: must not be both a file and a directory`,
  },
  {
    name: "too many entries",
    entries: [
      { name: "a", data: text("1") },
      { name: "b", data: text("2") },
      { name: "c", data: text("3") },
    ],
    limits: { maxEntries: 2 },
    message: (z) =>
      `zip ${JSON.stringify(z)} is invalid: must hold at most 2 entries (limits.maxEntries); it declares 3`,
  },
  {
    name: "too many bytes",
    entries: [{ name: "big", data: Buffer.alloc(2000), method: 8 }],
    limits: { maxTotalBytes: 1999 },
    message: (z) =>
      `zip ${JSON.stringify(z)} is invalid: must hold at most 1999 bytes uncompressed (limits.maxTotalBytes); its entries declare 2000`,
  },
  {
    name: "entries sharing their data (non-recursive bomb)",
    entries: [
      { name: "a", data: text("same bytes") },
      { name: "b", data: text("same bytes"), shareDataOf: 0 },
    ],
    message: (z) =>
      `zip ${JSON.stringify(z)} is invalid: must not have overlapping entries (a zip bomb reuses compressed data)`,
  },
];

test.each(hostile)(
  "inspectZip and extractZip refuse $name, writing nothing",
  async ({ entries, limits, message }) => {
    const zip = write("hostile.zip", craftZip(entries));
    const err = await inspectZip(zip, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(message(zip));
    const dest = path.join(tmp, "dest");
    await expect(extractZip(zip, dest, limits)).rejects.toThrow(message(zip));
    expect(fs.existsSync(dest)).toBe(false);
  },
);

test("refuses a zip bomb by its expansion ratio", async () => {
  // 32 MiB of zeros deflate to about 32 KiB: a ratio near 1000.
  const zip = write(
    "bomb.zip",
    craftZip([{ name: "zeros", data: Buffer.alloc(32 << 20), method: 8 }]),
  );
  const bytes = fs.statSync(zip).size;
  await expect(inspectZip(zip)).rejects.toThrow(
    `zip ${JSON.stringify(zip)} is invalid: must not expand more than 100 times (limits.maxCompressionRatio); its ${bytes} bytes declare ${32 << 20} (a zip bomb?)`,
  );
  // The same zip passes with a higher limit: the ratio is a parameter.
  const listing = await inspectZip(zip, { maxCompressionRatio: 2000 });
  expect(listing.uncompressedBytes).toBe(32 << 20);
});

test.each([
  [
    "not a zip",
    () => write("text.zip", text("hello, I am not a zip")),
    "must be a readable zip archive (End of central directory record signature not found. Either not a zip file, or file is truncated.)",
  ],
  ["a missing file", () => path.join(tmp, "missing.zip"), "must be an existing file"],
])("refuses %s", async (_name, make, rule) => {
  const zip = make();
  await expect(inspectZip(zip)).rejects.toThrow(`zip ${JSON.stringify(zip)} is invalid: ${rule}`);
});

test("inspectZip lists entries, kinds, modes and sizes", async () => {
  const zip = write(
    "ok.zip",
    craftZip([
      { name: "bin/", mode: 0o040755 },
      { name: "bin/tool", data: text("#!/bin/sh\n"), mode: 0o104755 },
      { name: "notes.txt", data: text("n".repeat(100)), method: 8, mode: 0o100600 },
      { name: "plain", data: text("p"), mode: 0 },
    ]),
  );
  const listing = await inspectZip(zip);
  expect(listing).toEqual({
    path: zip,
    bytes: fs.statSync(zip).size,
    entries: [
      { name: "bin/", kind: "directory", mode: 0o755, size: 0, compressedSize: 0, crc32: 0 },
      // setuid dropped
      {
        name: "bin/tool",
        kind: "file",
        mode: 0o755,
        size: 10,
        compressedSize: 10,
        crc32: zlib.crc32("#!/bin/sh\n"),
      },
      {
        name: "notes.txt",
        kind: "file",
        mode: 0o600,
        size: 100,
        compressedSize: zlib.deflateRawSync(text("n".repeat(100))).length,
        crc32: zlib.crc32("n".repeat(100)),
      },
      // No Unix mode recorded: 0644.
      {
        name: "plain",
        kind: "file",
        mode: 0o644,
        size: 1,
        compressedSize: 1,
        crc32: zlib.crc32("p"),
      },
    ],
    files: 3,
    directories: 1,
    uncompressedBytes: 111,
  });
});

test("extractZip keeps modes and contents of a package zip", async () => {
  const app = path.join(tmp, "app");
  fs.mkdirSync(path.join(app, "bin"), { recursive: true });
  fs.mkdirSync(path.join(app, "empty"));
  fs.writeFileSync(path.join(app, "bin", "run.sh"), "#!/bin/sh\necho ok\n", { mode: 0o755 });
  fs.writeFileSync(path.join(app, "data.txt"), "data\n", { mode: 0o644 });
  const info = await buildPackage({
    folder: app,
    outDir: path.join(tmp, "out"),
    applicationId: "app",
    version: "1",
  });
  const dest = path.join(tmp, "node", "app1");
  const listing = await extractZip(info.path, dest);
  expect(listing.entries.map((e) => [e.name, e.mode.toString(8)])).toEqual([
    ["bin/", "755"],
    ["bin/run.sh", "755"],
    ["data.txt", "644"],
    ["empty/", "755"],
  ]);
  const mode = (p: string) => (fs.statSync(path.join(dest, p)).mode & 0o7777).toString(8);
  expect([mode("bin"), mode("bin/run.sh"), mode("data.txt"), mode("empty")]).toEqual([
    "755",
    "755",
    "644",
    "755",
  ]);
  expect(fs.readFileSync(path.join(dest, "bin", "run.sh"), "utf8")).toBe("#!/bin/sh\necho ok\n");
  expect(fs.readdirSync(path.join(dest, "empty"))).toEqual([]);
});

test("extractZip gives directories owner rwx, after writing their files", async () => {
  const zip = write(
    "ro.zip",
    craftZip([
      { name: "ro/", mode: 0o040555 },
      { name: "ro/f", data: text("f"), mode: 0o100444 },
    ]),
  );
  const dest = path.join(tmp, "dest");
  await extractZip(zip, dest);
  expect((fs.statSync(path.join(dest, "ro")).mode & 0o777).toString(8)).toBe("755");
  expect((fs.statSync(path.join(dest, "ro", "f")).mode & 0o777).toString(8)).toBe("444");
});

test("extractZip refuses a non-empty destination and leaves it alone", async () => {
  const zip = write("ok.zip", craftZip([{ name: "a", data: text("a") }]));
  const dest = path.join(tmp, "dest");
  fs.mkdirSync(dest);
  fs.writeFileSync(path.join(dest, "mine"), "keep");
  await expect(extractZip(zip, dest)).rejects.toThrow(
    `extraction folder ${JSON.stringify(dest)} is invalid: must be empty or not exist`,
  );
  expect(fs.readdirSync(dest)).toEqual(["mine"]);
  await expect(extractZip(zip, path.join(dest, "mine"))).rejects.toThrow(
    `extraction folder ${JSON.stringify(path.join(dest, "mine"))} is invalid: must be a directory`,
  );
  expect(fs.readFileSync(path.join(dest, "mine"), "utf8")).toBe("keep");
});

test.each([
  [
    "a wrong CRC-32",
    [
      { name: "ok", data: text("fine") },
      { name: "bad", data: text("data"), crc: 1234 },
    ],
    'must be intact (entry "bad": its CRC-32 does not match)',
  ],
  [
    "more data than declared",
    [
      { name: "ok", data: text("fine") },
      { name: "liar", data: Buffer.alloc(100), method: 8, size: 5 },
    ],
    'must be intact (entry "liar": too many bytes in the stream. expected 5. got at least 100)',
  ],
])("extractZip refuses %s and removes what it wrote", async (_name, entries, rule) => {
  const zip = write("corrupt.zip", craftZip(entries as Crafted[]));
  const created = path.join(tmp, "new-dest");
  await expect(extractZip(zip, created)).rejects.toThrow(
    `zip ${JSON.stringify(zip)} is invalid: ${rule}`,
  );
  expect(fs.existsSync(created)).toBe(false);
  const existing = path.join(tmp, "empty-dest");
  fs.mkdirSync(existing);
  await expect(extractZip(zip, existing)).rejects.toThrow(rule);
  expect(fs.readdirSync(existing)).toEqual([]);
});

test.each([
  ["bin/ffmpeg", null],
  ["bin/", null],
  ["", "must not be empty"],
  ["\\evil", "must be a relative path (it is absolute)"],
  ["./a", "must be a normalized path (no empty or '.' segments)"],
  ["a/./b", "must be a normalized path (no empty or '.' segments)"],
  ["..", "must stay inside the extraction folder (it has a '..' segment)"],
  ["a\u0000b", "must not contain control characters"],
])("zipNameRule(%j) is %j", (name, rule) => {
  expect(zipNameRule(name, 1024)).toBe(rule);
});
