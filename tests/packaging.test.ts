/**
 * What `npm pack` ships: the built library and CLI, their docs, nothing else (no tests, no
 * TypeScript sources, no source maps, no build caches, no staged binaries). Reads npm's own
 * listing (`npm pack --dry-run --json`, scripts ignored: `npm ci` already built dist/).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

function packedFiles(): string[] {
  if (!fs.existsSync(path.join(ROOT, "dist", "components", "index.js"))) {
    throw new Error("dist/ is not built: run `npm run build` (npm ci does it through prepare)");
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const out = execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return pack.files.map((f) => f.path).sort();
}

/** Each shipped file matches one of these. */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^bin\/hpc-batch\.js$/,
  /^docs\/[\w-]+\.md$/,
  /^dist\/index\.(js|d\.ts)$/,
  /^dist\/(cli|components|lib|policy)\/[\w/-]+\.(js|d\.ts)$/,
  // The CLI's Azure SDK bundles and their packages' licenses (scripts/sdkBundles.js).
  /^dist\/vendor\/azure-[\w-]+\.js$/,
  /^dist\/vendor\/azure-sdk\.LICENSES\.txt$/,
];

let files: string[];
beforeAll(() => {
  files = packedFiles();
}, 60_000);

test("ships only the built code, the CLI entry, the docs, README and LICENSE", () => {
  expect(files.filter((f) => !ALLOWED.some((re) => re.test(f)))).toEqual([]);
});

test("ships what a consumer and the CLI load", () => {
  const needed = [
    "LICENSE",
    "README.md",
    "bin/hpc-batch.js",
    "dist/cli/main.js",
    "dist/components/index.d.ts",
    "dist/components/index.js",
    "dist/index.js",
    "dist/vendor/azure-arm.js",
    "dist/vendor/azure-identity.js",
    "dist/vendor/azure-sdk.LICENSES.txt",
    "dist/vendor/azure-storage-blob.js",
    "docs/components.md",
    "package.json",
  ];
  expect(needed.filter((f) => !files.includes(f))).toEqual([]);
});

/** The product's TypeScript sources, as the `dist/...js` each one builds to. */
function builtFromSources(): string[] {
  const out: string[] = [];
  for (const dir of ["cli", "components", "lib", "policy"]) {
    for (const e of fs.readdirSync(path.join(ROOT, dir), {
      recursive: true,
      withFileTypes: true,
    })) {
      if (!e.isFile() || !e.name.endsWith(".ts") || e.name.endsWith(".d.ts")) continue;
      const rel = path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join("/");
      out.push(`dist/${rel.replace(/\.ts$/, ".js")}`);
    }
  }
  return out.sort();
}

test("ships exactly one built module per source of cli/, components/, lib/ and policy/", () => {
  // From the sources, not from dist/: a source never built, or a stale output of a removed one,
  // fails here (run `npm run build`, which also prunes outputs whose source is gone).
  const shipped = files.filter((f) => /^dist\/(cli|components|lib|policy)\/.*\.js$/.test(f));
  expect(shipped).toEqual(builtFromSources());
});
