/**
 * Loads a one-file Azure SDK bundle (scripts/sdkBundles.js) as `require` would, compiled from the
 * V8 code cache the build writes beside it when that cache was made by this Node.js for these
 * bytes. V8 compiles a script's functions when they first run; the cache holds them compiled
 * (made after the bundle's top-level code ran), so a publish skips compiling most of the ARM
 * client: about 25 ms of each Azure command (README, Performance).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import Module, { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";

/** The cache beside a bundle: `<bundle>.v8cache`, one JSON header line, then V8's data. */
export const CODE_CACHE_SUFFIX = ".v8cache";

/**
 * Which Node.js binary made the data (its version, V8's, the CPU, a digest of its build options),
 * from which bundle bytes, and the data's own digest: release builds of V8 do not check it, and
 * damaged data can crash the process rather than be refused.
 */
export interface CodeCacheHeader {
  node: string;
  v8: string;
  arch: string;
  /** sha256 of `process.config` (how the binary was built), hex, first 16 digits. */
  build: string;
  /** sha256 of the bundle's bytes, hex. */
  sha256: string;
  /** sha256 of V8's data after the header line, hex. */
  data: string;
}

/**
 * How a bundle was compiled: `used` (from its cache), or from source because there was none, it
 * was not a cache file, another Node.js binary or CPU made it, it was made for other bytes (the
 * bundle rebuilt since), its data is not what was written (damaged), or V8 refused its data
 * (another V8 flag, such as one in NODE_OPTIONS).
 */
export type CodeCacheUse =
  "used" | "none" | "unreadable" | "other-node" | "other-source" | "damaged" | "rejected";

// Some bundled code may call import(): it then loads as it would from a required file.
const COMPILE_OPTIONS: Pick<vm.ScriptOptions, "importModuleDynamically"> =
  vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER === undefined
    ? {}
    : { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER };

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function isHeader(value: unknown): value is CodeCacheHeader {
  const h = value as Partial<CodeCacheHeader> | null;
  return (
    typeof h === "object" &&
    h !== null &&
    (["node", "v8", "arch", "build", "sha256", "data"] as const).every(
      (k) => typeof h[k] === "string",
    )
  );
}

/** A cache file's header and V8's data; undefined when the bytes are not a cache file. */
export function parseCodeCache(
  bytes: Buffer,
): { header: CodeCacheHeader; data: Buffer } | undefined {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(bytes.subarray(0, newline).toString("utf8"));
  } catch {
    return undefined;
  }
  return isHeader(header) ? { header, data: bytes.subarray(newline + 1) } : undefined;
}

/** This Node.js binary: what a cache's header must name to be used here. */
function thisNode(): Pick<CodeCacheHeader, "node" | "v8" | "arch" | "build"> {
  return {
    node: process.version,
    v8: process.versions.v8,
    arch: process.arch,
    build: sha256(Buffer.from(JSON.stringify(process.config))).slice(0, 16),
  };
}

/** The header of a cache made here, for a bundle of `bytes`, of V8's `data`. */
export function codeCacheHeader(bytes: Buffer, data: Buffer): CodeCacheHeader {
  return { ...thisNode(), sha256: sha256(bytes), data: sha256(data) };
}

/**
 * Whether a cache with `header` and `data` may compile a bundle of `bytes` here. V8 checks its
 * own version and flags, and the source's length only: a bundle rebuilt to the same length would
 * run the old code, so the bytes' sha256 is checked; and it trusts the data, so that is too.
 */
export function codeCacheFits(
  header: CodeCacheHeader,
  bytes: Buffer,
  data: Buffer,
): "used" | "other-node" | "other-source" | "damaged" {
  const here = thisNode();
  const keys = ["node", "v8", "arch", "build"] as const;
  if (keys.some((k) => header[k] !== here[k])) return "other-node";
  if (header.sha256 !== sha256(bytes)) return "other-source";
  return header.data === sha256(data) ? "used" : "damaged";
}

function readCache(file: string): Buffer | "none" | "unreadable" {
  try {
    return fs.readFileSync(file + CODE_CACHE_SUFFIX);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "none" : "unreadable";
  }
}

/** `bytes` of `file` compiled as a CommonJS module's code, from `cachedData` when given. */
function compile(file: string, bytes: Buffer, cachedData?: Buffer): vm.Script {
  return new vm.Script(Module.wrap(bytes.toString("utf8")), {
    filename: file,
    cachedData,
    ...COMPILE_OPTIONS,
  });
}

/** Compiles `file` as a CommonJS module's code, from its cache when that fits. */
export function compileBundle(file: string): { script: vm.Script; cache: CodeCacheUse } {
  const bytes = fs.readFileSync(file);
  const raw = readCache(file);
  let cache: CodeCacheUse = typeof raw === "string" ? raw : "unreadable";
  let cachedData: Buffer | undefined;
  if (Buffer.isBuffer(raw)) {
    const parsed = parseCodeCache(raw);
    if (parsed !== undefined) {
      cache = codeCacheFits(parsed.header, bytes, parsed.data);
      if (cache === "used") cachedData = parsed.data;
    }
  }
  const script = compile(file, bytes, cachedData);
  if (cachedData !== undefined && script.cachedDataRejected === true) cache = "rejected";
  return { script, cache };
}

/** Runs a compiled bundle as module `file` (in require's cache, as `require(file)` would put it). */
function run(script: vm.Script, file: string): Module {
  const mod = new Module(file);
  mod.filename = file;
  // Where a require from the bundle would look for packages, as Node.js sets it (an internal
  // function, so only when it is there: the bundles require only Node.js's own modules).
  const paths = (Module as unknown as { _nodeModulePaths?: (dir: string) => string[] })
    ._nodeModulePaths;
  if (typeof paths === "function") mod.paths = paths(path.dirname(file));
  require.cache[file] = mod;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  } catch (err) {
    delete require.cache[file];
    throw err;
  }
  mod.loaded = true;
  return mod;
}

/** `require(file)` for a bundle: the same module object on every call. */
export function loadBundle(file: string): unknown {
  const loaded = require.cache[file];
  if (loaded !== undefined) return loaded.exports;
  return run(compileBundle(file).script, file).exports;
}

/**
 * Writes `<file>.v8cache` for this Node.js (scripts/sdkBundles.js, after bundling, in a process
 * of its own): compiles the bundle, runs its top-level code, then saves V8's data, which then
 * holds every function that ran. Written aside and renamed: a CLI starting meanwhile reads the
 * old cache or the new one, never half of one.
 */
export function writeCodeCache(file: string): void {
  const bytes = fs.readFileSync(file);
  const script = compile(file, bytes);
  run(script, file);
  const data = script.createCachedData();
  const header = `${JSON.stringify(codeCacheHeader(bytes, data))}\n`;
  const target = file + CODE_CACHE_SUFFIX;
  const aside = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(aside, Buffer.concat([Buffer.from(header), data]));
  fs.renameSync(aside, target);
}
