// The Azure SDK packages the CLI loads, each bundled by esbuild with its dependencies into one
// file: `npm run build` writes them to dist/vendor/ with the licenses of the packages they hold
// (azure-sdk.LICENSES.txt), and the CLI loads them instead of the packages when they are there
// (lib/azure/azureSdk.ts: SDK_BUNDLE_FILES names the files, SDK_EXPORTS what each holds, both
// read from the compiled module here). Each is self-contained (its own copy of
// @azure/core-rest-pipeline), so a command loads only the bundles it uses.
// Measured (15 runs of `node -e` each, median, 2 idle cores): @azure/arm-batch with
// @azure/core-rest-pipeline 231-260 ms from the packages, 180-202 ms bundled; with
// @azure/identity 318-326 ms against 267-275 ms; `node -e 0` 113-123 ms.
// Beside each bundle, a V8 code cache made by this Node.js (`<bundle>.v8cache`,
// lib/azure/bundleLoader.ts), which the CLI compiles the bundle from when it fits.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

/**
 * A bundle's entry: for each namespace of `exports` (lib/azure/azureSdk.ts SDK_EXPORTS: what the
 * CLI uses of each SDK), its names imported from its package (`packages`: SDK_PACKAGES) and
 * exported as one object. An ES module importing only those names, so that esbuild leaves out
 * what none of them reaches. Measured (`node -e`, loading the bundle with its code cache and
 * making the client, alternating, 11 runs, median): the ARM client 474 KB instead of 824 KB from
 * the CommonJS builds, which esbuild cannot trim; the storage SDK 1.2 MB instead of 2.04 MB, 77 ms
 * instead of 140 ms; the identity SDK 0.96 MB instead of 1.41 MB, 65 ms instead of 93 ms (sizes
 * before minifyWhitespace, below: then 319 KB, 0.82 MB and 0.70 MB).
 */
function entry(exports, packages) {
  const lines = [];
  for (const [ns, names] of Object.entries(exports)) {
    const local = (name) => `${ns}$${name}`;
    lines.push(
      `import { ${names.map((n) => `${n} as ${local(n)}`).join(", ")} } from ${JSON.stringify(packages[ns])};`,
      `export const ${ns} = { ${names.map((n) => `${n}: ${local(n)}`).join(", ")} };`,
    );
  }
  return lines.join("\n");
}

/**
 * What an ES module's `import.meta` is in a bundle: esbuild, writing CommonJS, would make it an
 * empty object without a word (the storage SDK's crc64 calls createRequire(import.meta.url) at
 * load; identity's `open` takes its folder from it), so every `import.meta` becomes this object
 * of the bundle file's own url, dirname and filename, as `__filename` is the bundle's in CommonJS
 * code. Code reading anything else of it (import.meta.resolve) is refused at build time.
 */
const IMPORT_META = "__hpcBatchImportMeta";
const IMPORT_META_FIELDS = ["url", "dirname", "filename"];
const IMPORT_META_BANNER =
  `var ${IMPORT_META} = { url: require("node:url").pathToFileURL(__filename).href, ` +
  "dirname: __dirname, filename: __filename };";

/**
 * What `code` (a bundle's text) reads of import.meta beyond IMPORT_META_FIELDS, one entry each
 * ("import.meta.resolve", "import.meta" for the object itself); empty when nothing.
 */
function unsupportedImportMeta(code) {
  const found = new Set();
  const body = code.startsWith(IMPORT_META_BANNER) ? code.slice(IMPORT_META_BANNER.length) : code;
  for (const m of body.matchAll(new RegExp(`${IMPORT_META}(?:\\.([A-Za-z_$][\\w$]*))?`, "g"))) {
    if (!IMPORT_META_FIELDS.includes(m[1])) found.add(m[1] ? `import.meta.${m[1]}` : "import.meta");
  }
  // What esbuild writes for an import.meta it leaves as an empty object (never, with the define).
  if (/\bimport_meta\d*\b/.test(body)) found.add("import.meta (left empty by esbuild)");
  return [...found];
}

/**
 * The esbuild options of bundle `file` from entry `contents` (as entry() writes it), resolved
 * from `root`'s node_modules, written to `outfile`.
 */
function bundleOptions(file, contents, root, outfile) {
  return {
    stdin: { contents: `${contents}\n`, resolveDir: root, sourcefile: `${file}.entry.js` },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile,
    logLevel: "error",
    legalComments: "eof",
    metafile: true,
    // Paths in the metafile relative to `root` whatever the working directory.
    absWorkingDir: root,
    // Class and function names as in the packages (log lines, error names, name checks).
    keepNames: true,
    // No comments or indentation: a third less to read, hash and decode at each load, and ASCII
    // only (the packages' comments hold other characters, which make V8 decode the whole file
    // as two-byte text). Measured (as in entry()): the storage SDK 66 ms instead of 81 ms, the
    // ARM client 42-46 ms instead of 46-48 ms. A stack frame in a bundle names a line and column
    // of the bundle, as before, not of a package's file; those stay in node_modules.
    minifyWhitespace: true,
    // A package without "exports" (@azure/arm-batch 9) names its ES build in "module"; the
    // default for node, "main" first, would bundle its CommonJS build, and with it a second
    // copy of the pipeline beside the ES one the entry imports.
    mainFields: ["module", "main"],
    define: { "import.meta": IMPORT_META },
    banner: { js: IMPORT_META_BANNER },
  };
}

/**
 * The packages bundled from both their ES and their CommonJS build: entered (imported from outside
 * the package) at an ES module and at a CommonJS one, as esbuild's metafile classifies them. Such
 * a package is in the bundle twice: two pipelines, whose errors are not each other's classes. What
 * a package imports of itself is its own affair (core-client's and core-tracing's ES builds import
 * their CommonJS state on purpose, so both builds share one state). Answers `name: files`.
 */
function packagesBundledTwice(metafile) {
  const packageDir = (file) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
  const entered = new Map(); // package folder -> format -> the files entered
  for (const [from, input] of Object.entries(metafile.inputs)) {
    for (const { path: to } of input.imports ?? []) {
      const dir = packageDir(to);
      const format = metafile.inputs[to]?.format;
      if (dir === undefined || format === undefined || packageDir(from) === dir) continue;
      const formats = entered.get(dir) ?? new Map();
      formats.set(format, new Set([...(formats.get(format) ?? []), to.slice(dir.length + 1)]));
      entered.set(dir, formats);
    }
  }
  return [...entered]
    .filter(([, formats]) => formats.size > 1)
    .map(([dir, formats]) => {
      const files = [...formats].map(([format, set]) => `${[...set].join(", ")} (${format})`);
      return `${dir.replace(/^.*node_modules\//, "")}: ${files.join("; ")}`;
    });
}

/** The notice file written beside the bundles. */
const LICENSES = "azure-sdk.LICENSES.txt";

/** The package folders (…/node_modules/<name>) a bundle took files from. */
function bundledPackages(metafile, root) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(path.resolve(root, m[1]));
  }
  return dirs;
}

/** Where Node.js would find package `name` from `dir` (node_modules up the tree), if installed. */
function installedFrom(dir, name) {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * `dirs` and the installed dependencies of each, transitively: a package may ship code of its
 * dependencies inlined in its own files (@azure/msal-node holds @azure/msal-common; fast-xml-parser
 * holds strnum and others), which the bundle then holds without esbuild listing their files.
 */
function withDependencies(dirs) {
  const all = new Set(dirs);
  const queue = [...dirs];
  while (queue.length > 0) {
    const dir = queue.pop();
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    for (const name of Object.keys(meta.dependencies ?? {})) {
      const found = installedFrom(dir, name);
      if (found && !all.has(found)) {
        all.add(found);
        queue.push(found);
      }
    }
  }
  return all;
}

/** Each bundled package's name, version, license and license text, for bundle `files`. */
function licenseNotice(packageDirs, files) {
  const parts = [
    `Third-party packages bundled in ${files.join(", ")} ` +
      "(scripts/sdkBundles.js), and the installed dependencies of each (whose code a package " +
      "may hold inlined), with their licenses.",
  ];
  for (const dir of [...packageDirs].sort()) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    const text = file
      ? fs.readFileSync(path.join(dir, file), "utf8").trim()
      : "(no license file in the package)";
    parts.push(`${"-".repeat(78)}\n${meta.name}@${meta.version} (${meta.license})\n\n${text}`);
  }
  return `${parts.join("\n\n")}\n`;
}

/**
 * Writes the V8 code cache of each bundle file in `files` in a Node.js process of its own, as the
 * CLI starts: without NODE_OPTIONS (a V8 flag there, such as --max-old-space-size, makes V8 refuse
 * the cache in a process without it) and without the building process's flags (a test runner's),
 * with the CLI's loader, `<lib>/azure/bundleLoader.js`. Answers what went wrong, one line each:
 * a bundle that throws when loaded is removed (the CLI then loads its package); when the process
 * itself fails, no cache is kept and the bundles stay (a cache only saves compiling).
 */
function writeCodeCaches(files, lib) {
  const loader = path.join(lib, "azure", "bundleLoader.js");
  const script =
    `const { writeCodeCache } = require(${JSON.stringify(loader)});\n` +
    "const failed = {};\n" +
    `for (const file of ${JSON.stringify(files)}) {\n` +
    "  try { writeCodeCache(file); } catch (err) { failed[file] = String(err && err.message); }\n" +
    "}\n" +
    "process.stdout.write(JSON.stringify(failed));\n" +
    // A bundle's top-level code may leave a timer or a handle behind.
    "process.exit(0);\n";
  const res = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
  const removeCaches = (file) => {
    const dir = path.dirname(file);
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith(`${path.basename(file)}.v8cache`)) fs.rmSync(path.join(dir, f));
    }
  };
  if (res.status !== 0) {
    for (const file of files) removeCaches(file);
    const why = res.error?.message ?? (res.stderr.trim() || `exit ${res.status ?? res.signal}`);
    return [`no code caches written (${why.split("\n")[0]}): the CLI compiles the bundles`];
  }
  return Object.entries(JSON.parse(res.stdout)).map(([file, message]) => {
    removeCaches(file);
    fs.rmSync(file, { force: true });
    return `${path.basename(file)} removed: it throws when loaded (${message}); the CLI loads the package`;
  });
}

/**
 * Writes every bundle, its code cache and the license notice into `dir` (`<dist>/vendor`, beside
 * the compiled `<dist>/lib` it reads), resolving the packages from `root`'s node_modules. Throws
 * when esbuild is missing or fails, or a bundle would hold a package twice or read import.meta
 * (the caller decides what that stops); answers what went wrong with the code caches, one line
 * each (writeCodeCaches).
 */
function buildSdkBundles(dir, root = path.join(__dirname, "..")) {
  const esbuild = require("esbuild");
  const packages = new Set();
  // The bundles, their names and packages, as the compiled CLI will look for and use them.
  const { SDK_BUNDLE_FILES, SDK_EXPORTS, SDK_PACKAGES } = require(
    path.join(dir, "..", "lib", "azure", "azureSdk.js"),
  );
  const files = Object.values(SDK_BUNDLE_FILES);
  for (const [key, file] of Object.entries(SDK_BUNDLE_FILES)) {
    const outfile = path.join(dir, file);
    const result = esbuild.buildSync(
      bundleOptions(file, entry(SDK_EXPORTS[key], SDK_PACKAGES), root, outfile),
    );
    const twice = packagesBundledTwice(result.metafile);
    if (twice.length > 0) throw new Error(`${file} holds packages twice: ${twice.join("; ")}`);
    const meta = unsupportedImportMeta(fs.readFileSync(outfile, "utf8"));
    if (meta.length > 0) {
      throw new Error(`${file}: bundled code reads ${meta.join(", ")}, which a bundle lacks`);
    }
    for (const p of bundledPackages(result.metafile, root)) packages.add(p);
  }
  fs.writeFileSync(path.join(dir, LICENSES), licenseNotice(withDependencies(packages), files));
  return writeCodeCaches(
    files.map((f) => path.join(dir, f)),
    path.join(dir, "..", "lib"),
  );
}

module.exports = {
  buildSdkBundles,
  bundleOptions,
  entry,
  unsupportedImportMeta,
  LICENSES,
  packagesBundledTwice,
  writeCodeCaches,
};
