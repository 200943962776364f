// The Azure SDK packages the CLI loads, each bundled by esbuild with its dependencies into one
// file: `npm run build` writes them to dist/vendor/ with the licenses of the packages they hold
// (azure-sdk.LICENSES.txt), and the CLI loads them instead of the packages when they are there
// (lib/azure/azureSdk.ts, whose SDK_BUNDLE_FILES names the same files). Each is self-contained
// (its own copy of @azure/core-rest-pipeline), so a command loads only the bundles it uses.
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
 * The ARM bundle's entry, for `names` (lib/azure/azureSdk.ts ARM_SDK_EXPORTS: what the CLI uses
 * of the ARM client and its pipeline): from the packages' ES modules, importing only those names,
 * so that esbuild leaves out what none of them reaches (most of @typespec/ts-http-runtime, the
 * pipeline's base). Measured: 474 KB instead of 824 KB from the CommonJS builds, which esbuild
 * cannot trim; with their code caches, loaded in 152 ms of `node -e` against 174 ms (21 runs,
 * median; `node -e 0` 108 ms).
 */
function armEntry(names) {
  return [
    `import { ${names.armBatch.join(", ")} } from "@azure/arm-batch";`,
    `import { ${names.rest.join(", ")} } from "@azure/core-rest-pipeline";`,
    `export const armBatch = { ${names.armBatch.join(", ")} };`,
    `export const rest = { ${names.rest.join(", ")} };`,
  ].join("\n");
}

/**
 * File name -> the module text bundled into it (its exports are what the CLI uses), made from the
 * compiled `<dist>/lib` beside the bundles, and whether that text is an ES module (then the
 * packages' ES builds are bundled: see buildSdkBundles).
 */
const BUNDLES = {
  "azure-arm.js": {
    contents: (lib) => armEntry(require(path.join(lib, "azure", "azureSdk.js")).ARM_SDK_EXPORTS),
    esm: true,
  },
  "azure-storage-blob.js": { contents: () => 'module.exports = require("@azure/storage-blob");' },
  "azure-identity.js": { contents: () => 'module.exports = require("@azure/identity");' },
};

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

/** Each bundled package's name, version, license and license text. */
function licenseNotice(packageDirs) {
  const parts = [
    `Third-party packages bundled in ${Object.keys(BUNDLES).join(", ")} ` +
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
  for (const [file, { contents, esm }] of Object.entries(BUNDLES)) {
    const result = esbuild.buildSync({
      stdin: {
        contents: `${contents(path.join(dir, "..", "lib"))}\n`,
        resolveDir: root,
        sourcefile: `${file}.entry.js`,
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      outfile: path.join(dir, file),
      logLevel: "error",
      legalComments: "eof",
      metafile: true,
      // Paths in the metafile relative to `root` whatever the working directory.
      absWorkingDir: root,
      // Class and function names as in the packages (log lines, error names, name checks).
      keepNames: true,
      // A package without "exports" (@azure/arm-batch 9) names its ES build in "module"; the
      // default for node, "main" first, would bundle its CommonJS build, and with it a second
      // copy of the pipeline beside the ES one the entry imports.
      ...(esm ? { mainFields: ["module", "main"] } : {}),
    });
    const twice = packagesBundledTwice(result.metafile);
    if (twice.length > 0) throw new Error(`${file} holds packages twice: ${twice.join("; ")}`);
    // esbuild turns an ES module's import.meta into an empty object in a CommonJS bundle (without
    // a warning): code reading it would fail when it runs, so the bundle is refused now.
    if (esm && fs.readFileSync(path.join(dir, file), "utf8").includes("import_meta")) {
      throw new Error(`${file}: bundled code reads import.meta, which a CommonJS bundle lacks`);
    }
    for (const p of bundledPackages(result.metafile, root)) packages.add(p);
  }
  fs.writeFileSync(path.join(dir, LICENSES), licenseNotice(withDependencies(packages)));
  return writeCodeCaches(
    Object.keys(BUNDLES).map((f) => path.join(dir, f)),
    path.join(dir, "..", "lib"),
  );
}

module.exports = {
  buildSdkBundles,
  SDK_BUNDLE_FILES: Object.keys(BUNDLES),
  LICENSES,
  packagesBundledTwice,
  writeCodeCaches,
};
