import { createCipheriv, createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yauzl from "yauzl";
import { InputError } from "../../../lib/core/errors";
import { spawnSync } from "node:child_process";
import {
  buildPackage,
  GrowingZip,
  packageEntryTime,
  packageFileName,
  PackageChangedError,
  PackageProgress,
  PARTIAL_RE,
  zipDigest,
} from "../../../lib/package/zip";
import { extractZip } from "../../../lib/package/zipInspect";
import { stageFolder } from "../../../lib/package/stage";
import { compileCli } from "../../support/cliProcess";

const REPO = path.resolve(__dirname, "../../..");
let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-zip-"));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface FixtureFile {
  path: string;
  content: string;
  mode: number;
}

const FILES: FixtureFile[] = [
  { path: "bin/transcode.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
  { path: "bin/tool", content: "binary".repeat(1000), mode: 0o700 },
  { path: "README.md", content: "# app\n", mode: 0o644 },
  { path: "share/doc/notes.txt", content: "notes\n", mode: 0o600 },
  { path: "data.bin", content: "0123456789".repeat(5000), mode: 0o664 },
];

/** Writes FILES under `name` in the given order, then sets every mtime to `mtime`. */
function fixture(
  name: string,
  order: FixtureFile[],
  mtime: Date,
  modeOf = (f: FixtureFile) => f.mode,
) {
  const dir = path.join(tmp, name);
  for (const f of order) {
    const abs = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, f.content);
    fs.chmodSync(abs, modeOf(f));
  }
  fs.mkdirSync(path.join(dir, "empty"), { recursive: true });
  const touch = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const abs = path.join(p, e.name);
      if (e.isDirectory()) touch(abs);
      fs.utimesSync(abs, mtime, mtime);
    }
  };
  touch(dir);
  return dir;
}

function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

interface ReadEntry {
  name: string;
  attrs: number;
  madeBy: number;
  date: number;
  time: number;
  extra: number;
  method: number;
  flags: number;
  content: Buffer;
}

/** Reads every entry back with yauzl, contents included. */
async function readZip(file: string): Promise<ReadEntry[]> {
  const zip = await yauzl.openPromise(file);
  const out: ReadEntry[] = [];
  for await (const e of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    if (!e.fileName.endsWith("/")) {
      for await (const c of await zip.openReadStreamPromise(e)) chunks.push(c as Buffer);
    }
    out.push({
      name: e.fileName,
      attrs: e.externalFileAttributes >>> 16,
      madeBy: e.versionMadeBy >> 8,
      date: e.lastModFileDate,
      time: e.lastModFileTime,
      extra: e.extraFieldLength,
      method: e.compressionMethod,
      flags: e.generalPurposeBitFlag,
      content: Buffer.concat(chunks),
    });
  }
  return out;
}

const opts = (folder: string, outDir: string) => ({
  folder,
  outDir,
  applicationId: "ffmpeg",
  version: "1.2.3",
});

test("writes <outDir>/<id>-<version>.zip with no root folder, exact entries, modes and fixed times", async () => {
  const dir = fixture("app", FILES, new Date("2024-05-06T07:08:09Z"));
  const info = await buildPackage(opts(dir, path.join(tmp, "out")));
  const zipPath = path.join(tmp, "out", "ffmpeg-1.2.3.zip");
  expect(info).toEqual({
    path: zipPath,
    sha256: sha256(zipPath),
    bytes: fs.statSync(zipPath).size,
    version: "1.2.3",
    applicationId: "ffmpeg",
    files: 5,
  });
  const entries = await readZip(zipPath);
  expect(entries.map((e) => [e.name, e.attrs.toString(8), e.method])).toEqual([
    ["README.md", "100644", 8],
    ["bin/", "40755", 0],
    ["bin/tool", "100755", 8],
    ["bin/transcode.sh", "100755", 8],
    ["data.bin", "100644", 8],
    ["empty/", "40755", 0],
    ["share/", "40755", 0],
    ["share/doc/", "40755", 0],
    ["share/doc/notes.txt", "100644", 8],
  ]);
  for (const e of entries) {
    expect(e.madeBy).toBe(3); // Unix: the attributes carry the mode
    // DOS date 1980-01-01 ((0 << 9) | (1 << 5) | 1) and time 00:00:00; no extended timestamp.
    expect([e.date, e.time, e.extra]).toEqual([33, 0, 0]);
    // UTF-8 names (bit 11); CRC and sizes in the local header, no data descriptor (bit 3 clear).
    expect(e.flags).toBe(0x800);
  }
  for (const f of FILES) {
    expect(entries.find((e) => e.name === f.path)?.content.toString()).toBe(f.content);
  }
  expect(fs.readdirSync(path.join(tmp, "out")).sort()).toEqual([
    ".ffmpeg-1.2.3.zip.build.json",
    "ffmpeg-1.2.3.zip",
  ]);
});

/**
 * Builds the package in a child Node.js process with `TZ` (and `env`) set (a test cannot change
 * the zone of its own process): the transpiled lib/package/zip.ts of the suite's compiled CLI
 * (tests/support/cliProcess.ts, built once per source change), so the child loads no compiler.
 * Resolves to the zip's sha256.
 */
function buildInZone(tz: string, folder: string, outDir: string, env: NodeJS.ProcessEnv = {}) {
  const script = `
    if (new Date(1980, 0, 1).getTimezoneOffset() !== Number(process.argv[4])) throw new Error("zone not applied");
    require(${JSON.stringify(path.join(path.dirname(compileCli()), "lib", "package", "zip.js"))})
      .buildPackage({ folder: process.argv[1], outDir: process.argv[2], applicationId: "ffmpeg", version: "1.2.3" })
      .then((info) => process.stdout.write(info.sha256));
  `;
  const offset = { "Asia/Tokyo": -540, "America/New_York": 300 }[tz] as number;
  return execFileSync(process.execPath, ["-e", script, folder, outDir, tz, String(offset)], {
    cwd: REPO,
    env: { ...process.env, ...env, TZ: tz },
    encoding: "utf8",
  });
}

test("byte-identical whatever the mtimes, creation order, permissions beyond the exec bit and owner", async () => {
  const a = fixture("a", FILES, new Date("2020-01-01T00:00:00Z"));
  const b = fixture("b", [...FILES].reverse(), new Date("2031-12-31T23:59:59Z"), (f) =>
    f.mode & 0o111 ? 0o711 : 0o640,
  );
  if (process.getuid?.() === 0) {
    for (const f of FILES) fs.chownSync(path.join(b, f.path), 4321, 4321);
  }
  const first = await buildPackage(opts(a, path.join(tmp, "out-a")));
  const second = await buildPackage(opts(b, path.join(tmp, "out-b")));
  expect(second.sha256).toBe(first.sha256);
  expect(fs.readFileSync(second.path).equals(fs.readFileSync(first.path))).toBe(true);
});

test("byte-identical in every time zone (DOS times are local: the fixed time is built from local fields)", async () => {
  const dir = fixture("app", FILES, new Date("2020-01-01T00:00:00Z"));
  const here = await buildPackage(opts(dir, path.join(tmp, "out-here")));
  expect(buildInZone("Asia/Tokyo", dir, path.join(tmp, "out-tokyo"))).toBe(here.sha256);
  expect(buildInZone("America/New_York", dir, path.join(tmp, "out-ny"))).toBe(here.sha256);
});

test("byte-identical however many pieces of a large file compress at once", async () => {
  // 3.5 MiB: four 1 MiB pieces. Here up to 4 compress at once (defaultConcurrency with 2+ cores);
  // in the child, UV_THREADPOOL_SIZE=1 makes it one at a time.
  const big = { path: "bin/big.dat", content: "0123456789abcdef".repeat(229_376), mode: 0o644 };
  const dir = fixture("app", [...FILES, big], new Date(0));
  const here = await buildPackage(opts(dir, path.join(tmp, "out-here")));
  const child = buildInZone("Asia/Tokyo", dir, path.join(tmp, "out-1"), {
    UV_THREADPOOL_SIZE: "1",
  });
  expect(child).toBe(here.sha256);
  expect(execFileSync("unzip", ["-tq", here.path], { encoding: "utf8" })).toContain(
    "No errors detected",
  );
});

test("byte-identical whatever order the filesystem lists entries in", async () => {
  const dir = fixture("app", FILES, new Date("2022-02-02T00:00:00Z"));
  const sorted = await buildPackage(opts(dir, path.join(tmp, "out-1")));
  // Make every directory listing come back reversed (and a scan sees it: the spy is hit).
  const real = fs.promises.readdir;
  const spy = jest
    .spyOn(fs.promises, "readdir")
    .mockImplementation((async (p: fs.PathLike, o?: unknown) =>
      ((await real(p, o as never)) as unknown[]).reverse()) as never);
  const reversed = await buildPackage({ ...opts(dir, path.join(tmp, "out-2")), reuse: false });
  expect(spy).toHaveBeenCalled();
  expect(reversed.sha256).toBe(sorted.sha256);
});

test("different content, path or exec bit gives a different zip", async () => {
  const base = await buildPackage(opts(fixture("a", FILES, new Date(0)), path.join(tmp, "o1")));
  const changed = FILES.map((f) => (f.path === "README.md" ? { ...f, content: "# app!\n" } : f));
  const noExec = FILES.map((f) => (f.path === "bin/tool" ? { ...f, mode: 0o644 } : f));
  const renamed = FILES.map((f) => (f.path === "data.bin" ? { ...f, path: "data2.bin" } : f));
  const shas = await Promise.all(
    [changed, noExec, renamed].map(async (files, i) => {
      const info = await buildPackage(
        opts(fixture(`v${i}`, files, new Date(0)), path.join(tmp, `o${i + 2}`)),
      );
      return info.sha256;
    }),
  );
  expect(new Set([base.sha256, ...shas]).size).toBe(4);
});

test("reports progress per chunk and per file", async () => {
  const dir = fixture("app", FILES, new Date(0));
  const seen: PackageProgress[] = [];
  await buildPackage({
    ...opts(dir, path.join(tmp, "out")),
    onProgress: (p) => seen.push({ ...p }),
  });
  const last = seen[seen.length - 1];
  expect(last).toEqual({
    file: "share/doc/notes.txt",
    filesDone: 5,
    filesTotal: 5,
    bytesDone: 56030,
    bytesTotal: 56030,
  });
  expect(seen.map((p) => p.filesDone)).toEqual(
    [...seen.map((p) => p.filesDone)].sort((x, y) => x - y),
  );
});

test("reuses the zip when the files are unchanged, rebuilds when one changes", async () => {
  const dir = fixture("app", FILES, new Date(0));
  const out = path.join(tmp, "out");
  const first = await buildPackage(opts(dir, out));
  const inode = fs.statSync(first.path).ino;
  const again = await buildPackage(opts(dir, out));
  expect(again).toEqual(first);
  expect(fs.statSync(again.path).ino).toBe(inode); // not rewritten
  fs.writeFileSync(path.join(dir, "README.md"), "# changed\n");
  const rebuilt = await buildPackage(opts(dir, out));
  expect(rebuilt.sha256).not.toBe(first.sha256);
  expect(rebuilt.sha256).toBe(sha256(rebuilt.path));
  // A zip replaced behind its back is not trusted either.
  fs.writeFileSync(rebuilt.path, "not the zip");
  const repaired = await buildPackage(opts(dir, out));
  expect(repaired.sha256).toBe(rebuilt.sha256);
  expect(sha256(repaired.path)).toBe(rebuilt.sha256);
});

test.each([
  [
    { applicationId: "ff mpeg" },
    `applicationId "ff mpeg" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
  ],
  [
    { version: "1.0.0+build.1" },
    `version "1.0.0+build.1" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)`,
  ],
  [{ compressionLevel: 0 }, "compressionLevel 0 is invalid: must be an integer from 1 to 9"],
])("refuses %j before writing anything", async (override, message) => {
  const dir = fixture("app", FILES, new Date(0));
  const out = path.join(tmp, "out");
  const err = await buildPackage({ ...opts(dir, out), ...override }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toBe(message);
  expect(fs.existsSync(out)).toBe(false);
});

test("refuses an outDir inside the package folder", async () => {
  const dir = fixture("app", FILES, new Date(0));
  await expect(buildPackage(opts(dir, path.join(dir, "out")))).rejects.toThrow(
    `outDir ${JSON.stringify(path.join(dir, "out"))} is invalid: must be outside the package folder ${JSON.stringify(dir)} (the zip would package itself)`,
  );
  expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
});

test("a failure while zipping leaves no partial zip and keeps the previous one", async () => {
  const dir = fixture("app", FILES, new Date(0));
  const out = path.join(tmp, "out");
  const previous = await buildPackage(opts(dir, out));
  const before = fs.readFileSync(previous.path);
  fs.writeFileSync(path.join(dir, "README.md"), "# changed\n"); // so the zip is rebuilt
  // Shrink a file the scan already measured, while the first file is being read.
  let shrunk = false;
  const failing = buildPackage({
    ...opts(dir, out),
    onProgress: () => {
      if (!shrunk) {
        shrunk = true;
        fs.writeFileSync(path.join(dir, "share/doc/notes.txt"), "");
      }
    },
  });
  await expect(failing).rejects.toThrow(
    `could not zip ${dir}: file data stream has unexpected number of bytes`,
  );
  expect(fs.readdirSync(out).sort()).toEqual([".ffmpeg-1.2.3.zip.build.json", "ffmpeg-1.2.3.zip"]);
  expect(fs.readFileSync(previous.path).equals(before)).toBe(true);
});

test("packageFileName and the entry time", () => {
  expect(packageFileName("ffmpeg", "1.0.0-rc.2")).toBe("ffmpeg-1.0.0-rc.2.zip");
  const t = packageEntryTime();
  expect([
    t.getFullYear(),
    t.getMonth(),
    t.getDate(),
    t.getHours(),
    t.getMinutes(),
    t.getSeconds(),
  ]).toEqual([1980, 0, 1, 0, 0, 0]);
});

// The real thing: stage the 68 MB static ffmpeg into a copy of hpc-application, zip it, check the
// zip with Info-ZIP, extract it and run the binary.
test("zips the real staged ffmpeg folder; the extracted binary runs", async () => {
  const app = path.join(tmp, "hpc-application");
  fs.cpSync(path.join(REPO, "hpc-application"), app, {
    recursive: true,
    filter: (src) =>
      path.relative(path.join(REPO, "hpc-application"), src) !== path.join("bin", "ffmpeg"),
  });
  const staged = await stageFolder({ folder: app, resolveFrom: [REPO] });
  expect(staged.map((s) => [s.to, s.action, s.mode])).toEqual([["bin/ffmpeg", "copied", 0o755]]);

  const info = await buildPackage({
    folder: app,
    outDir: path.join(tmp, "out"),
    applicationId: "ffmpeg",
    version: "1.0.0",
  });
  expect(info.files).toBe(4); // README.md, bin/ffmpeg, bin/transcode.sh, stage.json
  const ffmpegBytes = fs.statSync(path.join(app, "bin", "ffmpeg")).size;
  expect(info.bytes).toBeLessThan(ffmpegBytes / 2);

  const infoZip = execFileSync("unzip", ["-Z", "-1", info.path], { encoding: "utf8" })
    .trim()
    .split("\n");
  expect(infoZip).toEqual(["README.md", "bin/", "bin/ffmpeg", "bin/transcode.sh", "stage.json"]);
  expect(execFileSync("unzip", ["-tq", info.path], { encoding: "utf8" })).toContain(
    "No errors detected",
  );

  const node = path.join(tmp, "node");
  await extractZip(info.path, node);
  expect(fs.statSync(path.join(node, "bin", "ffmpeg")).mode & 0o777).toBe(0o755);
  expect(fs.statSync(path.join(node, "bin", "transcode.sh")).mode & 0o777).toBe(0o755);
  expect(fs.statSync(path.join(node, "README.md")).mode & 0o777).toBe(0o644);
  const version = execFileSync(path.join(node, "bin", "ffmpeg"), ["-version"], {
    encoding: "utf8",
  });
  expect(version.split("\n")[0]).toMatch(/^ffmpeg version /);

  // The wrapper finds ffmpeg beside itself: a one-second tone, WAV to FLAC.
  const wav = path.join(tmp, "in.wav");
  execFileSync(path.join(node, "bin", "ffmpeg"), [
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    "sine=duration=1",
    wav,
  ]);
  const flac = path.join(tmp, "sub", "out.flac");
  execFileSync(path.join(node, "bin", "transcode.sh"), [
    wav,
    flac,
    "-loglevel",
    "error",
    "-c:a",
    "flac",
  ]);
  expect(fs.readFileSync(flac).subarray(0, 4).toString()).toBe("fLaC");
});

describe("a zip of the same version with other content", () => {
  test("is replaced by default, and the result says what it replaced", async () => {
    const dir = fixture("app", FILES, new Date(0));
    const out = path.join(tmp, "out");
    const first = await buildPackage(opts(dir, out));
    expect(first.replaced).toBeUndefined();
    fs.writeFileSync(path.join(dir, "README.md"), "# other\n");
    const second = await buildPackage(opts(dir, out));
    expect(second.replaced).toEqual({ sha256: first.sha256, bytes: first.bytes });
    expect(sha256(second.path)).toBe(second.sha256);
  });

  test("is refused with ifChanged: refuse, the zip and its record untouched, nothing else left", async () => {
    const dir = fixture("app", FILES, new Date(0));
    const out = path.join(tmp, "out");
    const first = await buildPackage(opts(dir, out));
    const before = fs.readFileSync(first.path);
    fs.writeFileSync(path.join(dir, "README.md"), "# other\n");
    const err = await buildPackage({ ...opts(dir, out), ifChanged: "refuse" }).catch((e) => e);
    expect(err).toBeInstanceOf(PackageChangedError);
    expect(err).toBeInstanceOf(InputError);
    expect([err.path, err.version, err.previousSha256]).toEqual([
      first.path,
      "1.2.3",
      first.sha256,
    ]);
    expect((err as Error).message).toBe(
      `version "1.2.3" is invalid: ${first.path} already holds version 1.2.3 with other content (sha256 ${first.sha256.slice(0, 12)}..., now ${err.sha256.slice(0, 12)}...): a version must keep its content once built; build another version`,
    );
    expect(fs.readFileSync(first.path).equals(before)).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual([
      ".ffmpeg-1.2.3.zip.build.json",
      "ffmpeg-1.2.3.zip",
    ]);
    // The same content again is no change, refused or not.
    fs.writeFileSync(path.join(dir, "README.md"), "# app\n");
    expect((await buildPackage({ ...opts(dir, out), ifChanged: "refuse" })).sha256).toBe(
      first.sha256,
    );
  });
});

test("partial files of killed builds are removed, a live build's are not", async () => {
  const dir = fixture("app", FILES, new Date(0));
  const out = path.join(tmp, "out");
  fs.mkdirSync(out);
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  const left = [
    `.ffmpeg-1.2.3.zip.${dead}.0a1b2c3d.partial`,
    `.ffmpeg-0.9.0.zip.build.json.${dead}.partial`,
  ];
  const live = `.ffmpeg-1.2.3.zip.${process.ppid}.0a1b2c3d.partial`;
  // A random part of digits only (about 2% of builds) is not a pid: the file is a live build's.
  const liveDigits = `.ffmpeg-1.2.3.zip.${process.ppid}.40775521.partial`;
  const liveRecord = `.ffmpeg-1.2.3.zip.build.json.${process.ppid}.partial`;
  for (const n of [...left, live, liveDigits, liveRecord, "notes.txt"])
    fs.writeFileSync(path.join(out, n), "x");
  await buildPackage(opts(dir, out));
  expect(fs.readdirSync(out).sort()).toEqual(
    [
      ".ffmpeg-1.2.3.zip.build.json",
      live,
      liveDigits,
      liveRecord,
      "ffmpeg-1.2.3.zip",
      "notes.txt",
    ].sort(),
  );
});

test.each([
  [".ffmpeg-1.2.3.zip.4242.0a1b2c3d.partial", 4242],
  [".ffmpeg-1.2.3.zip.4242.40775521.partial", 4242],
  [".ffmpeg-1.2.3.zip.build.json.4242.partial", 4242],
  [".app-7.zip.9.zip.4242.12345678.partial", 4242],
  [".ffmpeg-1.2.3.zip.4242.partial", null],
  [".ffmpeg-1.2.3.zip.4242.0a1b2c3.partial", null],
  ["ffmpeg-1.2.3.zip", null],
])("the pid of partial file %s is %p", (name, pid) => {
  const m = PARTIAL_RE.exec(name);
  expect(m === null ? null : Number(m[1] ?? m[2])).toBe(pid);
});

test("the folder is named as the caller names it (a config key)", async () => {
  await expect(
    buildPackage({
      ...opts(path.join(tmp, "none"), path.join(tmp, "out")),
      folderField: "hpc-batch:applicationFolder",
    }),
  ).rejects.toThrow(
    `hpc-batch:applicationFolder ${JSON.stringify(path.join(tmp, "none"))} is invalid: must be an existing directory`,
  );
});

describe("zipDigest", () => {
  test("takes the build record while the zip is the one recorded, else reads the zip", async () => {
    const dir = fixture("app", FILES, new Date(0));
    const out = path.join(tmp, "out-digest");
    const info = await buildPackage(opts(dir, out));
    const actual = { sha256: info.sha256, bytes: info.bytes };
    expect(await zipDigest(info.path)).toEqual(actual);
    expect(createHash("sha256").update(fs.readFileSync(info.path)).digest("hex")).toBe(info.sha256);
    // The record is what answers while size, inode and mtime match: a doctored sha shows through.
    const recordPath = path.join(out, `.${path.basename(info.path)}.build.json`);
    const record = JSON.parse(fs.readFileSync(recordPath, "utf8")) as { zip: { sha256: string } };
    record.zip.sha256 = "0".repeat(64);
    fs.writeFileSync(recordPath, JSON.stringify(record));
    expect(await zipDigest(info.path)).toEqual({ sha256: "0".repeat(64), bytes: info.bytes });
    // A new mtime (any rewrite of the zip) and the zip is read again.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(info.path, later, later);
    expect(await zipDigest(info.path)).toEqual(actual);
    // No record at all: read.
    fs.rmSync(recordPath);
    expect(await zipDigest(info.path)).toEqual(actual);
  });

  test("a missing zip is an error naming it", async () => {
    const missing = path.join(tmp, "nope", "ffmpeg-1.0.0.zip");
    await expect(zipDigest(missing)).rejects.toThrow(`${missing} is not a file`);
  });
});

describe("follow: the zip as it is written", () => {
  /** FILES plus 3.5 MiB of incompressible bytes: the zip is written in several batches. */
  function bigFixture(): string {
    const dir = fixture("app", FILES, new Date(0));
    // AES-CTR keystream of zeros: deterministic and incompressible.
    const bytes = createCipheriv("aes-128-ctr", Buffer.alloc(16), Buffer.alloc(16)).update(
      Buffer.alloc(3.5 * (1 << 20)),
    );
    fs.writeFileSync(path.join(dir, "bin", "big.dat"), bytes);
    return dir;
  }

  test("follow gets the partial file once; until resolves when a range is final, then with the size", async () => {
    const dir = bigFixture();
    const out = path.join(tmp, "out");
    const ends = [0, 1, 100, 1000, 100_000, 1 << 20, 2 << 20, 3 << 20, 4 << 20, 5 << 20];
    const followed: GrowingZip[] = [];
    let fd = -1;
    /** Each `until` as it resolved, with the bytes before its end read there and then. */
    const resolved: { end: number; result: { complete?: number }; bytes: Buffer }[] = [];
    const waits: Promise<void>[] = [];
    const info = await buildPackage({
      ...opts(dir, out),
      follow: (zip) => {
        followed.push(zip);
        fd = fs.openSync(zip.partialPath, "r");
        for (const end of [...ends, Number.MAX_SAFE_INTEGER]) {
          waits.push(
            zip.until(end).then((result) => {
              const bytes = Buffer.alloc(Math.min(end, result.complete ?? end));
              fs.readSync(fd, bytes, 0, bytes.length, 0);
              resolved.push({ end, result, bytes });
            }),
          );
        }
      },
    });
    await Promise.all(waits);
    const final = fs.readFileSync(info.path);
    expect(info.bytes).toBeGreaterThan(3.5 * (1 << 20));
    expect(info.bytes).toBeLessThan(4 << 20);

    expect(followed).toHaveLength(1);
    const [zip] = followed;
    expect(zip.path).toBe(info.path);
    expect(path.dirname(zip.partialPath)).toBe(out);
    expect(PARTIAL_RE.exec(path.basename(zip.partialPath))?.[1]).toBe(String(process.pid));
    expect(fs.existsSync(zip.partialPath)).toBe(false); // renamed to the final path

    // Resolved in order of their ends; each end within the zip as soon as it was final (the last
    // write reports the whole file before the build completes), the others with the zip's size.
    expect(resolved.map((r) => [r.end, r.result])).toEqual([
      ...ends.map((end) => [end, end <= info.bytes ? {} : { complete: info.bytes }]),
      [Number.MAX_SAFE_INTEGER, { complete: info.bytes }],
    ]);
    // What was read at each resolution is the final zip's start (the hole of a header being
    // written is never before an end that resolved).
    for (const r of resolved) {
      expect([r.end, r.bytes.equals(final.subarray(0, r.bytes.length))]).toEqual([r.end, true]);
    }
    // The descriptor opened in `follow` reads the complete zip (the rename keeps it valid).
    const whole = Buffer.alloc(info.bytes + 1);
    expect(fs.readSync(fd, whole, 0, whole.length, 0)).toBe(info.bytes);
    expect(whole.subarray(0, info.bytes).equals(final)).toBe(true);
    expect(fs.fstatSync(fd).ino).toBe(fs.statSync(info.path).ino);
    fs.closeSync(fd);
    // Asked after completion: the size at once.
    expect(await zip.until(1)).toEqual({ complete: info.bytes });
    expect(info.sha256).toBe(sha256(info.path));
  });

  test("not followed when the zip is reused, nor when a zip of that version is already there", async () => {
    const dir = fixture("app", FILES, new Date(0));
    const out = path.join(tmp, "out");
    const follow = jest.fn();
    const first = await buildPackage({ ...opts(dir, out), follow });
    expect(follow).toHaveBeenCalledTimes(1);
    follow.mockClear();

    // Reused: nothing written.
    expect(await buildPackage({ ...opts(dir, out), follow })).toEqual(first);
    // Other content, replaced: the new zip is written, but not followed (it replaces another).
    fs.writeFileSync(path.join(dir, "README.md"), "# other\n");
    const replaced = await buildPackage({ ...opts(dir, out), follow });
    expect(replaced.replaced).toEqual({ sha256: first.sha256, bytes: first.bytes });
    // Other content again, refused.
    fs.writeFileSync(path.join(dir, "README.md"), "# third\n");
    const err = await buildPackage({ ...opts(dir, out), ifChanged: "refuse", follow }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PackageChangedError);
    // Same content but no reuse: rebuilt over the same zip, not followed either.
    fs.writeFileSync(path.join(dir, "README.md"), "# other\n");
    const rebuilt = await buildPackage({ ...opts(dir, out), reuse: false, follow });
    expect(rebuilt.sha256).toBe(replaced.sha256);
    expect(follow).not.toHaveBeenCalled();
  });

  test("a build failing after follow rejects pending and later until calls with its error", async () => {
    const dir = fixture("app", FILES, new Date(0));
    const out = path.join(tmp, "out");
    let zip: GrowingZip | undefined;
    let pending: Promise<unknown> | undefined;
    let shrunk = false;
    let followedBeforeRead = false;
    const err = await buildPackage({
      ...opts(dir, out),
      // These few compressible files would be followed only at the end (see the zip bomb test).
      limits: { maxCompressionRatio: 1_000_000 },
      follow: (z) => {
        zip = z;
        pending = z.until(Number.MAX_SAFE_INTEGER).catch((e: unknown) => e);
      },
      // Shrink the last file, measured by the scan, once the zip is followed (after its first
      // entry: the zip is then long enough not to be taken for a zip bomb).
      onProgress: () => {
        if (shrunk || zip === undefined) return;
        shrunk = true;
        followedBeforeRead = true;
        fs.writeFileSync(path.join(dir, "share/doc/notes.txt"), "");
      },
    }).catch((e: unknown) => e);
    expect(followedBeforeRead).toBe(true);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `could not zip ${dir}: file data stream has unexpected number of bytes: "share/doc/notes.txt" was 6 bytes when listed, only 0 read (it changed while being zipped)`,
    );
    expect(await pending).toBe(err);
    await expect((zip as GrowingZip).until(1)).rejects.toBe(err);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  test("bytes after an open local header are final before its entry is complete", async () => {
    // One 3.5 MiB entry after a few small ones: its header is reserved until it is complete, and
    // a range past that header is final as soon as it is written.
    const dir = bigFixture();
    const out = path.join(tmp, "out");
    let done = false;
    let early: Promise<{ complete?: number }> | undefined;
    const info = await buildPackage({
      ...opts(dir, out),
      follow: (zip) => {
        early = zip.until(2 << 20, 1 << 20);
      },
    }).then((i) => {
      done = true;
      return i;
    });
    expect(done).toBe(true);
    // Resolved without the size: before the zip was complete.
    expect(await early).toEqual({});
    expect(info.bytes).toBeGreaterThan(3 << 20);
  });

  test("a zip that could still expand more than maxCompressionRatio times is not followed", async () => {
    // 4 MiB of zeros deflate to about 4 KB: publish would refuse the zip (zipInspect), so it is
    // never handed over while it is written; the caller publishes the finished zip, or not.
    const zeros = { path: "zeros.bin", content: "\0".repeat(4 << 20), mode: 0o644 };
    const dir = fixture("app", [FILES[0], zeros], new Date(0));
    const calls: string[] = [];
    const info = await buildPackage({
      ...opts(dir, path.join(tmp, "out")),
      follow: (zip) => calls.push(zip.partialPath),
    });
    expect(info.bytes * 100).toBeLessThan(4 << 20);
    expect(calls).toEqual([]);
  });
});
