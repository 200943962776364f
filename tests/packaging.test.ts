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
    "docs/components.md",
    "package.json",
  ];
  expect(needed.filter((f) => !files.includes(f))).toEqual([]);
});

test("every built module of lib/, components/, cli/ and policy/ is shipped", () => {
  const built = fs
    .readdirSync(path.join(ROOT, "dist"), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".js"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .filter((f) => /^dist\/(cli|components|lib|policy)\//.test(f));
  expect(built.length).toBeGreaterThan(50);
  expect(built.filter((f) => !files.includes(f))).toEqual([]);
});
