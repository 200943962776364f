/**
 * Loads a one-file Azure SDK bundle (scripts/sdkBundles.js) as `require` would, compiled from the
 * V8 code cache the build writes beside it when that cache was made by this Node.js for these
 * bytes. V8 compiles a script's functions when they first run; the cache holds them compiled
 * (made after the bundle's top-level code ran), so a publish skips compiling the ARM client's
 * 0.8 MB: about 25 ms of each Azure command (README, Performance).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import Module, { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";

/** The cache beside a bundle: `<bundle>.v8cache`, one JSON header line, then V8's data. */
export const CODE_CACHE_SUFFIX = ".v8cache";

/** Which Node.js made the data, on which CPU, from which bundle bytes. */
export interface CodeCacheHeader {
  node: string;
  arch: string;
  sha256: string;
}

/**
 * How a bundle was compiled: `used` (from its cache), or from source because there was none, it
 * was not a cache file, another Node.js or CPU made it, it was made for other bytes (the bundle
 * rebuilt since), or V8 refused its data.
 */
export type CodeCacheUse =
  "used" | "none" | "unreadable" | "other-node" | "other-source" | "rejected";

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
    typeof h.node === "string" &&
    typeof h.arch === "string" &&
    typeof h.sha256 === "string"
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

/** The header of a cache made here (this Node.js, this CPU) for a bundle of `bytes`. */
export function codeCacheHeader(bytes: Buffer): CodeCacheHeader {
  return { node: process.version, arch: process.arch, sha256: sha256(bytes) };
}

/**
 * Whether a cache with `header` may compile a bundle of `bytes` here. V8 checks its own version
 * and flags, and the source's length only: a bundle rebuilt to the same length would run the
 * old code, so the bytes' sha256 is checked first.
 */
export function codeCacheFits(
  header: CodeCacheHeader,
  bytes: Buffer,
): "used" | "other-node" | "other-source" {
  if (header.node !== process.version || header.arch !== process.arch) return "other-node";
  return header.sha256 === sha256(bytes) ? "used" : "other-source";
}

function readCache(file: string): Buffer | "none" | "unreadable" {
  try {
    return fs.readFileSync(file + CODE_CACHE_SUFFIX);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "none" : "unreadable";
  }
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
      cache = codeCacheFits(parsed.header, bytes);
      if (cache === "used") cachedData = parsed.data;
    }
  }
  const script = new vm.Script(Module.wrap(bytes.toString("utf8")), {
    filename: file,
    cachedData,
    ...COMPILE_OPTIONS,
  });
  if (cachedData !== undefined && script.cachedDataRejected === true) cache = "rejected";
  return { script, cache };
}

/** Runs a compiled bundle as module `file` (in require's cache, as `require(file)` would put it). */
function run(script: vm.Script, file: string): Module {
  const mod = new Module(file);
  mod.filename = file;
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
  const script = new vm.Script(Module.wrap(bytes.toString("utf8")), {
    filename: file,
    ...COMPILE_OPTIONS,
  });
  run(script, file);
  const header = `${JSON.stringify(codeCacheHeader(bytes))}\n`;
  const target = file + CODE_CACHE_SUFFIX;
  const aside = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(aside, Buffer.concat([Buffer.from(header), script.createCachedData()]));
  fs.renameSync(aside, target);
}
