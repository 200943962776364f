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

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const here = { node: process.version, arch: process.arch };

describe("parseCodeCache", () => {
  const header = { ...here, sha256: "ab" };
  test.each<[string, Buffer, ReturnType<typeof parseCodeCache>]>([
    [
      "a header line, then the data",
      Buffer.from(`${JSON.stringify(header)}\n\x01\x02\n`),
      { header, data: Buffer.from("\x01\x02\n") },
    ],
    ["no newline", Buffer.from(JSON.stringify(header)), undefined],
    ["a header that is not JSON", Buffer.from("{node:1}\n\x01"), undefined],
    ["a header without sha256", Buffer.from(`${JSON.stringify(here)}\n\x01`), undefined],
    ["a header that is null", Buffer.from("null\n\x01"), undefined],
    ["empty", Buffer.alloc(0), undefined],
  ])("%s", (_name, bytes, expected) => {
    expect(parseCodeCache(bytes)).toEqual(expected);
  });
});

describe("codeCacheFits", () => {
  const bytes = Buffer.from("module.exports = 1;\n");
  test.each<[string, object, ReturnType<typeof codeCacheFits>]>([
    ["made here for these bytes", { ...here, sha256: sha(bytes.toString()) }, "used"],
    ["another Node.js", { ...here, node: "v20.0.0", sha256: sha(bytes.toString()) }, "other-node"],
    ["another CPU", { ...here, arch: "arm64-not-this", sha256: sha("x") }, "other-node"],
    ["other bytes", { ...here, sha256: sha("module.exports = 2;\n") }, "other-source"],
  ])("%s", (_name, header, expected) => {
    expect(codeCacheFits({ ...here, sha256: "", ...header }, bytes)).toBe(expected);
  });

  test("the header of a cache made here names this Node.js, this CPU and the bytes", () => {
    expect(codeCacheHeader(bytes)).toEqual({ ...here, sha256: sha(bytes.toString()) });
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
  expect(parseCodeCache(fs.readFileSync(file + CODE_CACHE_SUFFIX))?.header).toEqual({
    ...here,
    sha256: sha(BUNDLE),
  });
  expect(inNode(LOAD(file))).toMatchObject({ cache: "used", value: "one", later: "one!" });
});

test("from source, running the new code, when the bundle changed since its cache", () => {
  const file = bundle("b.js", BUNDLE);
  inNode(`L.writeCodeCache(${JSON.stringify(file)}); console.log("{}");`);
  // The same length: V8's own check (the source's length) would take the old cache.
  const changed = BUNDLE.replace("'one'", "'two'");
  expect(changed.length).toBe(BUNDLE.length);
  fs.writeFileSync(file, changed);
  expect(inNode(LOAD(file))).toMatchObject({ cache: "other-source", value: "two", later: "two!" });
});

test.each<[string, (cache: Buffer) => Buffer, string]>([
  [
    "made by another Node.js",
    (c) => {
      const parsed = parseCodeCache(c)!;
      const header = JSON.stringify({ ...parsed.header, node: "v20.0.0" });
      return Buffer.concat([Buffer.from(`${header}\n`), parsed.data]);
    },
    "other-node",
  ],
  [
    "whose data V8 refuses",
    (c) => {
      const parsed = parseCodeCache(c)!;
      const header = JSON.stringify(parsed.header);
      return Buffer.concat([Buffer.from(`${header}\n`), Buffer.alloc(parsed.data.length, 7)]);
    },
    "rejected",
  ],
  ["that is not a cache file", () => Buffer.from("not a cache"), "unreadable"],
])("from source when the cache is one %s", (_name, spoil, expected) => {
  const file = bundle("b.js", BUNDLE);
  inNode(`L.writeCodeCache(${JSON.stringify(file)}); console.log("{}");`);
  fs.writeFileSync(file + CODE_CACHE_SUFFIX, spoil(fs.readFileSync(file + CODE_CACHE_SUFFIX)));
  expect(inNode(LOAD(file))).toMatchObject({ cache: expected, value: "one", later: "one!" });
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
