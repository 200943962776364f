/**
 * A bundle loads as `require` would load it, from the V8 code cache written for it when that
 * cache was made by this Node.js for these bytes, and from its source in every other case. The
 * loads run in fresh Node.js processes (the compiled loader, as the CLI runs it): V8 checks a
 * cache against the flags of the process, and a test runner's worker is not the CLI.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CODE_CACHE_SUFFIX,
  codeCacheFits,
  codeCacheHeader,
  parseCodeCache,
} from "../../../lib/azure/bundleLoader";
import { compileCli } from "../../support/cliProcess";

let loader: string;
let tmp: string;
beforeAll(() => {
  loader = path.join(path.dirname(compileCli()), "lib", "azure", "bundleLoader.js");
}, 120_000);
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-bundle-loader-"))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
/** This Node.js binary, as a cache's header names it. */
const here = {
  node: process.version,
  v8: process.versions.v8,
  arch: process.arch,
  build: sha(JSON.stringify(process.config)).slice(0, 16),
};

describe("parseCodeCache", () => {
  const header = { ...here, sha256: "ab", data: "cd" };
  const noDataDigest = { ...here, sha256: "ab" };
  test.each<[string, Buffer, ReturnType<typeof parseCodeCache>]>([
    [
      "a header line, then the data",
      Buffer.from(`${JSON.stringify(header)}\n\x01\x02\n`),
      { header, data: Buffer.from("\x01\x02\n") },
    ],
    ["no newline", Buffer.from(JSON.stringify(header)), undefined],
    ["a header that is not JSON", Buffer.from("{node:1}\n\x01"), undefined],
    [
      "a header without the data's digest",
      Buffer.from(`${JSON.stringify(noDataDigest)}\n\x01`),
      undefined,
    ],
    ["a header that is null", Buffer.from("null\n\x01"), undefined],
    ["empty", Buffer.alloc(0), undefined],
  ])("%s", (_name, bytes, expected) => {
    expect(parseCodeCache(bytes)).toEqual(expected);
  });
});

describe("codeCacheFits", () => {
  const bytes = Buffer.from("module.exports = 1;\n");
  const data = Buffer.from([1, 2, 3]);
  const made = { ...here, sha256: sha(bytes), data: sha(data) };
  test.each<[string, Partial<Record<keyof typeof made, string>>, ReturnType<typeof codeCacheFits>]>(
    [
      ["made here for these bytes, its data intact", {}, "used"],
      ["another Node.js version", { node: "v20.0.0" }, "other-node"],
      ["another V8", { v8: "11.3.244.8-node.0" }, "other-node"],
      ["another CPU", { arch: process.arch === "arm64" ? "x64" : "arm64" }, "other-node"],
      ["a binary built with other options", { build: "0123456789abcdef" }, "other-node"],
      ["other bytes", { sha256: sha("module.exports = 2;\n") }, "other-source"],
      ["data not what was written", { data: sha(Buffer.from([1, 2, 4])) }, "damaged"],
    ],
  )("%s", (_name, change, expected) => {
    expect(codeCacheFits({ ...made, ...change }, bytes, data)).toBe(expected);
  });

  test("the header of a cache made here names this binary, the bytes and the data", () => {
    expect(codeCacheHeader(bytes, data)).toEqual(made);
  });
});

/** Runs `code` in a fresh Node.js with `L` the compiled loader; answers its JSON output. */
function inNode(code: string): unknown {
  const res = spawnSync(
    process.execPath,
    ["-e", `const L = require(${JSON.stringify(loader)});\n${code}`],
    { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } },
  );
  if (res.status !== 0) throw new Error(`node exited ${res.status}: ${res.stderr}`);
  return JSON.parse(res.stdout) as unknown;
}

/** Writes bundle `name` with `text`; answers its path. */
function bundle(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

// Both module styles, a builtin through the bundle's require, its file and folder names, and a
// function that runs only when called (its compiled form is in the cache only if it ran).
const BUNDLE = [
  "const os = require('node:os');",
  "exports.value = 'one';",
  "exports.where = [__filename, __dirname];",
  "exports.eol = os.EOL;",
  "exports.later = () => exports.value + '!';",
  "",
].join("\n");

const LOAD = (file: string) =>
  `const file = ${JSON.stringify(file)};\n` +
  "const { cache } = L.compileBundle(file);\n" +
  "const m = L.loadBundle(file);\n" +
  "console.log(JSON.stringify({ cache, value: m.value, later: m.later(), where: m.where, " +
  "eol: m.eol, same: L.loadBundle(file) === m && require(file) === m }));";

/** The cache writeCodeCache makes for BUNDLE, made once (it holds no path: copied per test). */
let bundleCache: Buffer;
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-bundle-cache-"));
  try {
    const file = path.join(dir, "b.js");
    fs.writeFileSync(file, BUNDLE);
    inNode(`L.writeCodeCache(${JSON.stringify(file)}); console.log("{}");`);
    bundleCache = fs.readFileSync(file + CODE_CACHE_SUFFIX);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

/** BUNDLE as b.js with the cache writeCodeCache makes for it beside it. */
function cachedBundle(): string {
  const file = bundle("b.js", BUNDLE);
  fs.writeFileSync(file + CODE_CACHE_SUFFIX, bundleCache);
  return file;
}

test("from its cache when the cache was made here for these bytes, as require would load it", () => {
  const file = bundle("b.js", BUNDLE);
  expect(inNode(LOAD(file))).toEqual({
    cache: "none",
    value: "one",
    later: "one!",
    where: [file, tmp],
    eol: os.EOL,
    same: true,
  });
  inNode(`L.writeCodeCache(${JSON.stringify(file)}); console.log("{}");`);
  expect(fs.readdirSync(tmp).sort()).toEqual(["b.js", `b.js${CODE_CACHE_SUFFIX}`]);
  const written = parseCodeCache(fs.readFileSync(file + CODE_CACHE_SUFFIX))!;
  expect(written.header).toEqual({ ...here, sha256: sha(BUNDLE), data: sha(written.data) });
  expect(inNode(LOAD(file))).toMatchObject({ cache: "used", value: "one", later: "one!" });
});

test("from source, running the new code, when the bundle changed since its cache", () => {
  const file = cachedBundle();
  // The same length: V8's own check (the source's length) would take the old cache.
  const changed = BUNDLE.replace("'one'", "'two'");
  expect(changed.length).toBe(BUNDLE.length);
  fs.writeFileSync(file, changed);
  expect(inNode(LOAD(file))).toMatchObject({ cache: "other-source", value: "two", later: "two!" });
});

/** A cache file of `header` (with the data's digest made right) and `data`. */
function cacheFile(header: object, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify({ ...header, data: sha(data) })}\n`), data]);
}

test.each<[string, (cache: Buffer) => Buffer, string]>([
  [
    "made by another Node.js",
    (c) => cacheFile({ ...parseCodeCache(c)!.header, node: "v20.0.0" }, parseCodeCache(c)!.data),
    "other-node",
  ],
  [
    // One byte changed in the middle: V8 (a release build checks no checksum) crashed on such
    // data, at half its length, before the header carried the data's digest.
    "whose data was damaged",
    (c) => {
      const damaged = Buffer.from(c);
      damaged[Math.floor(c.length / 2)] ^= 0xff;
      return damaged;
    },
    "damaged",
  ],
  [
    "whose data V8 refuses (not V8's: the header rewritten to fit it)",
    (c) => cacheFile(parseCodeCache(c)!.header, Buffer.alloc(parseCodeCache(c)!.data.length, 7)),
    "rejected",
  ],
  ["that is not a cache file", () => Buffer.from("not a cache"), "unreadable"],
])("from source when the cache is one %s", (_name, spoil, expected) => {
  const file = cachedBundle();
  fs.writeFileSync(file + CODE_CACHE_SUFFIX, spoil(fs.readFileSync(file + CODE_CACHE_SUFFIX)));
  expect(inNode(LOAD(file))).toMatchObject({ cache: expected, value: "one", later: "one!" });
});

test("from source when V8 flags differ: a cache written under NODE_OPTIONS' --max-old-space-size", () => {
  const file = bundle("b.js", BUNDLE);
  const res = spawnSync(
    process.execPath,
    ["-e", `require(${JSON.stringify(loader)}).writeCodeCache(${JSON.stringify(file)})`],
    { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=4096" } },
  );
  expect(res.status).toBe(0);
  expect(inNode(LOAD(file))).toMatchObject({ cache: "rejected", value: "one", later: "one!" });
});

test("a bundle that throws as it loads throws each time, never half loaded", () => {
  const file = bundle("bad.js", "exports.partial = true;\nthrow new Error('broken bundle');\n");
  const code =
    `const file = ${JSON.stringify(file)};\n` +
    "const tries = [1, 2].map(() => { try { L.loadBundle(file); return 'loaded'; } " +
    "catch (err) { return err.message; } });\n" +
    "console.log(JSON.stringify({ tries, cached: file in require.cache }));";
  expect(inNode(code)).toEqual({ tries: ["broken bundle", "broken bundle"], cached: false });
});

test("the build writes the caches as the CLI starts, whatever NODE_OPTIONS it runs under, and drops a bundle that throws", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { writeCodeCaches } = require("../../../scripts/sdkBundles") as {
    writeCodeCaches: (files: string[], lib: string) => string[];
  };
  const good = bundle("b.js", BUNDLE);
  const bad = bundle("bad.js", "throw new Error('broken bundle');\n");
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = "--max-old-space-size=4096";
  let problems: string[];
  try {
    problems = writeCodeCaches([good, bad], path.dirname(path.dirname(loader)));
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  expect(problems).toEqual([
    "bad.js removed: it throws when loaded (broken bundle); the CLI loads the package",
  ]);
  expect(fs.readdirSync(tmp).sort()).toEqual(["b.js", `b.js${CODE_CACHE_SUFFIX}`]);
  expect(inNode(LOAD(good))).toMatchObject({ cache: "used", value: "one" });
});
