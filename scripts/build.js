#!/usr/bin/env node
// `npm run build`: compiles the project into dist/ (`tsc -p tsconfig.build.json`) and records
// what it compiled in dist/.build-stamp: the path, size and modification time of every input
// (the files tsconfig.build.json includes, the tsconfig files, package.json and the lockfile).
// With --if-stale (`npm run plan`, `bench`, `stage-app`) it compiles only when that record
// differs from the tree or an entry point is missing, as make would: checking takes a few
// milliseconds, where tsc re-parses about 1,400 files (Pulumi's typings) even incrementally.
// Then it bundles the Azure SDK packages the CLI loads into dist/vendor/ (scripts/sdkBundles.js).
// Extra arguments go to tsc.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const STAMP = path.join(root, "dist", ".build-stamp");
/** What bin/hpc-batch.js and package.json's main load: without them dist/ is not built. */
const ENTRY_POINTS = ["dist/cli/main.js", "dist/index.js", "dist/components/index.js"];
/** Written after tsc, not from sources of its own (so never pruned as stale). */
const VENDOR = "dist/vendor";
const ALSO = [
  "tsconfig.json",
  "tsconfig.build.json",
  "package.json",
  "package-lock.json",
  "scripts/sdkBundles.js",
];
const NEVER = new Set(["node_modules", "dist", ".git", "out", "coverage"]);

/** A tsconfig include/exclude pattern (`*`, `**`, `dir`) as a regular expression on paths. */
function globToRegExp(pattern) {
  let re = "";
  const p = pattern.replace(/^\.\//, "").replace(/\/$/, "");
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      re += p[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += p[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // A pattern without a file part (`dist`, `tests/**`) also covers what is below it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

function readConfig(file) {
  // tsconfig files are JSON with comments; these have none, JSON.parse says so if that changes.
  const config = JSON.parse(fs.readFileSync(path.join(root, file), "utf8"));
  const base = config.extends ? readConfig(config.extends) : {};
  return {
    include: config.include ?? base.include ?? ["**/*"],
    exclude: config.exclude ?? base.exclude ?? [],
  };
}

/** The build's inputs, each as `path size mtime`, sorted: the stamp's content. */
function inputs() {
  const { include, exclude } = readConfig("tsconfig.build.json");
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  const lines = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!NEVER.has(e.name) && !exc.some((re) => re.test(p))) walk(p);
      } else if (/\.(ts|tsx|json)$/.test(e.name) && !/\.d\.ts$/.test(e.name)) {
        if (inc.some((re) => re.test(p)) && !exc.some((re) => re.test(p))) lines.push(p);
      }
    }
  };
  walk("");
  for (const f of ALSO) if (fs.existsSync(path.join(root, f))) lines.push(f);
  return [...new Set(lines)]
    .sort()
    .map((p) => {
      const s = fs.statSync(path.join(root, p));
      return `${p} ${s.size} ${Math.round(s.mtimeMs)}`;
    })
    .join("\n");
}

/** True when esbuild is installed: the build then writes dist/vendor/, so it must be there. */
function bundlerInstalled() {
  try {
    require.resolve("esbuild", { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

function upToDate(current) {
  if (!ENTRY_POINTS.every((f) => fs.existsSync(path.join(root, f)))) return false;
  // Built once without esbuild, since installed: build again.
  if (bundlerInstalled() && !fs.existsSync(path.join(root, VENDOR))) return false;
  try {
    return fs.readFileSync(STAMP, "utf8") === current;
  } catch {
    return false;
  }
}

const args = process.argv.slice(2);
const ifStale = args.includes("--if-stale");
const tscArgs = args.filter((a) => a !== "--if-stale");
// Taken before compiling: a file saved during the build makes the next run compile again.
const current = inputs();
if (ifStale && upToDate(current)) process.exit(0);

function tsc() {
  const res = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json", ...tscArgs],
    { cwd: root, stdio: "inherit" },
  );
  if (res.status !== 0) process.exit(res.status === null ? 1 : res.status);
}

fs.rmSync(STAMP, { force: true });
tsc();
if (!ENTRY_POINTS.every((f) => fs.existsSync(path.join(root, f)))) {
  // An incremental build trusts dist/.tsbuildinfo and does not re-emit outputs deleted since.
  fs.rmSync(path.join(root, "dist", ".tsbuildinfo"), { force: true });
  tsc();
}
pruneStale();
bundleSdks();
fs.writeFileSync(STAMP, current);

/**
 * dist/vendor/ (scripts/sdkBundles.js): the bundles the CLI loads instead of the Azure SDK's
 * packages. Without esbuild (a speed-up, not a need) the build goes on without them.
 */
function bundleSdks() {
  const dir = path.join(root, VENDOR);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    for (const line of require("./sdkBundles").buildSdkBundles(dir, root)) {
      console.error(`build: ${VENDOR}/: ${line}`);
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    console.error(
      `build: ${VENDOR}/ not written (${String(err.message).split("\n")[0]}): the CLI loads ` +
        "the Azure SDK's packages instead (about 50 ms slower per package loaded)",
    );
  }
}

/**
 * Removes outputs whose source is gone (a moved or deleted .ts): tsc never deletes them, and a
 * stale `dist/components/x.js` would shadow a new `components/x/index.ts` for `require` and ship
 * in `npm pack`.
 */
function pruneStale() {
  const dist = path.join(root, "dist");
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dist, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === "vendor") continue;
      if (e.isDirectory()) {
        walk(p);
        if (fs.readdirSync(path.join(dist, p)).length === 0) fs.rmdirSync(path.join(dist, p));
        continue;
      }
      const m = /^(.*)\.(?:js|d\.ts|js\.map|d\.ts\.map)$/.exec(p);
      if (m && !fs.existsSync(path.join(root, `${m[1]}.ts`))) fs.rmSync(path.join(dist, p));
    }
  };
  walk("");
}
