/**
 * lib/plan/deferClosure works on Node's own module cache, which jest's module registry does not use:
 * each test runs a Node process of its own, loading the TypeScript sources through a require hook
 * (TypeScript's transpileModule, as ts-jest does). The hook loads `typescript` itself, so "Pulumi
 * did not load TypeScript" is checked on Pulumi's own loader of it, typescript-shim.js.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fixturePlanArgs } from "../../support/devStack";

const ROOT = path.join(__dirname, "..", "..", "..");
let tmp: string;
let hook: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-defer-closure-"));
  hook = path.join(tmp, "ts-hook.js");
  fs.writeFileSync(
    hook,
    `const fs = require("node:fs");
const ts = require(${JSON.stringify(path.join(ROOT, "node_modules", "typescript"))});
require.extensions[".ts"] = (m, file) =>
  m._compile(
    ts.transpileModule(fs.readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText,
    file,
  );
// What the process loaded, for the test to read.
process.on("exit", () =>
  fs.writeFileSync(process.env.LOADED_FILE, JSON.stringify(Object.keys(require.cache))),
);
`,
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `script` in a Node process with the hook; answers its stdout and what it loaded. */
function run(script: string, name: string): Promise<{ stdout: string; loaded: string[] }> {
  const loadedFile = path.join(tmp, `${name}.json`);
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ["-r", hook, "-e", script],
      { cwd: ROOT, env: { ...process.env, LOADED_FILE: loadedFile }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${err.message}\n${stderr}`))
          : resolve({ stdout, loaded: JSON.parse(fs.readFileSync(loadedFile, "utf8")) }),
    ),
  );
}

/** Modules a plan must not load: Pulumi's serializer's dependencies, the Azure SDKs. */
const HEAVY = [
  "node_modules/@pulumi/pulumi/typescript-shim.js",
  "node_modules/@pulumi/pulumi/runtime/closure/createClosure.js",
  "node_modules/@npmcli/arborist/",
  "node_modules/@azure/batch/",
  "node_modules/@azure/arm-batch/",
  "node_modules/@azure/storage-blob/",
  "node_modules/@azure/core-rest-pipeline/",
  "node_modules/@azure/identity/",
];
const heavyIn = (loaded: string[]) =>
  HEAVY.filter((h) => loaded.some((f) => f.split(path.sep).join("/").includes(h)));

test("Pulumi loads without its serializer; the first serialization loads and uses the real one", async () => {
  const { stdout, loaded } = await run(
    `const { deferClosureSerializer, DEFERRED } = require("./lib/plan/deferClosure.ts");
const deferred = deferClosureSerializer().map((f) => require("node:path").relative(process.cwd(), f));
const pulumi = require("@pulumi/pulumi");
const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
const codePaths = require("@pulumi/pulumi/runtime/closure/codePaths");
const loaded = (p) => Object.keys(require.cache).some((f) => f.includes(p));
const before = {
  standIns: [closure[DEFERRED], codePaths[DEFERRED]],
  typescriptShim: loaded("typescript-shim.js"),
  arborist: loaded("@npmcli/arborist"),
};
(async () => {
  const sf = await pulumi.runtime.serializeFunction(() => () => 6 * 7);
  const m = { exports: {} };
  new Function("exports", "require", "module", sf.text)(m.exports, require, m);
  const workspaceRoot = await codePaths.findWorkspaceRoot(process.env.TMPDIR_FOR_TEST || "/");
  process.stdout.write(JSON.stringify({
    deferred,
    before,
    answer: m.exports[sf.exportName]()(),
    after: { typescriptShim: loaded("typescript-shim.js"), arborist: loaded("@npmcli/arborist") },
    real: require("@pulumi/pulumi/runtime/closure/serializeClosure")[DEFERRED],
    workspaceRoot,
    again: deferClosureSerializer(),
  }));
})();`,
    "serialize",
  );
  expect(JSON.parse(stdout)).toEqual({
    deferred: [
      path.join("node_modules", "@pulumi", "pulumi", "runtime", "closure", "serializeClosure.js"),
      path.join("node_modules", "@pulumi", "pulumi", "runtime", "closure", "codePaths.js"),
    ],
    before: { standIns: [true, true], typescriptShim: false, arborist: false },
    answer: 42,
    after: { typescriptShim: true, arborist: true },
    // The real module replaced the stand-in in the cache once it loaded.
    real: undefined,
    workspaceRoot: null,
    // Already loaded: nothing to defer.
    again: [],
  });
  expect(heavyIn(loaded)).toEqual([
    "node_modules/@pulumi/pulumi/typescript-shim.js",
    "node_modules/@pulumi/pulumi/runtime/closure/createClosure.js",
    "node_modules/@npmcli/arborist/",
  ]);
}, 60_000);

test("hpc-batch plan loads neither Pulumi's serializer nor an Azure SDK", async () => {
  const out = path.join(tmp, "plan-out");
  const { loaded } = await run(
    `require("./cli/main.ts").run(${JSON.stringify(["node", "hpc-batch", ...fixturePlanArgs(out)])}).then(() => { if (process.exitCode) process.stderr.write("exit " + process.exitCode); });`,
    "plan",
  );
  expect(fs.readdirSync(out).sort()).toEqual(["plan.json", "plan.md"]);
  // The plan did run the program and the policies: Pulumi and the program's modules are there.
  expect(loaded).toContain(path.join(ROOT, "index.ts"));
  expect(loaded).toContain(path.join(ROOT, "policy", "runner.ts"));
  expect(heavyIn(loaded)).toEqual([]);
}, 120_000);
