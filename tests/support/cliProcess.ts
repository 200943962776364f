/**
 * The hpc-batch CLI as a process of its own, run from the current sources: for tests that
 * interrupt, kill or re-run a real run (signals need a process; a stale `dist/` must not decide a
 * test). `compileCli` transpiles cli/, lib/ and policy/ (TypeScript's transpileModule, as ts-jest
 * does) with an entry that does what bin/hpc-batch.js does, and bundles the Azure SDK beside it
 * as `npm run build` does (scripts/sdkBundles.js), once per content of those sources.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as tsModule from "typescript";

const ROOT = path.resolve(__dirname, "..", "..");
const DIRS = ["cli", "lib", "policy"];
const ENTRY = '"use strict";\nrequire("./cli/main.js").run(process.argv);\n';

/** The sources compileCli transpiles, relative to the repository, in a stable order. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(r);
    }
  };
  for (const dir of DIRS) walk(dir);
  return out;
}

/**
 * Where the compiled CLI is kept across runs: the temp directory itself, not the run's own folder
 * `npm test` points TMPDIR at (scripts/test.js), which goes when the run ends.
 */
function sharedTmp(): string {
  return process.env.HPC_BATCH_TEST_SHARED_TMP || os.tmpdir();
}

/**
 * The transpiled CLI's entry script. The output is a function of the sources, package.json, the
 * lockfile, TypeScript's version and the Node.js that runs the tests (the bundles' code caches)
 * only, so it is built once into a temp folder named after their sha256 and reused by every test
 * file and run until one of them changes (transpiling takes seconds; hashing takes milliseconds).
 * Built aside and renamed into place: parallel jest workers never see half a folder, and a folder,
 * once there, never changes; one unused for an hour is removed.
 */
export function compileCli(): string {
  const files = sources();
  const key = createHash("sha256");
  const typescriptPackage = path.join(ROOT, "node_modules", "typescript", "package.json");
  const inputs = [
    typescriptPackage,
    path.join(ROOT, "package.json"),
    // The bundled SDK's versions, and how it is bundled.
    path.join(ROOT, "package-lock.json"),
    path.join(ROOT, "scripts", "sdkBundles.js"),
  ];
  for (const file of inputs) key.update(fs.readFileSync(file)).update("\0");
  // The bundles' V8 code caches are this Node.js's (lib/azure/bundleLoader.ts).
  key.update(`${process.version} ${process.arch}\0`);
  for (const rel of files)
    key
      .update(rel)
      .update("\0")
      .update(fs.readFileSync(path.join(ROOT, rel)));
  key.update(ENTRY);
  const dir = path.join(sharedTmp(), `hpc-batch-test-cli-${key.digest("hex").slice(0, 16)}`);
  const entry = path.join(dir, "hpc-batch.js");
  if (fs.existsSync(entry)) {
    fs.utimesSync(dir, new Date(), new Date()); // its last use, for the sweep below
    return entry;
  }

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require("typescript") as typeof tsModule;
  const compilerOptions: tsModule.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
  };
  const tmp = fs.mkdtempSync(`${dir}.`);
  for (const rel of files) {
    const out = path.join(tmp, rel.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const source = fs.readFileSync(path.join(ROOT, rel), "utf8");
    fs.writeFileSync(out, ts.transpileModule(source, { compilerOptions }).outputText);
  }
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(tmp, "package.json"));
  fs.writeFileSync(path.join(tmp, "hpc-batch.js"), ENTRY);
  // Where the CLI looks for them (cli/main.ts sdkBundles): the process tests use them, as users do.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildSdkBundles } = require("../../scripts/sdkBundles") as {
    buildSdkBundles: (dir: string, root: string) => string[];
  };
  const problems = buildSdkBundles(path.join(tmp, "vendor"), ROOT);
  if (problems.length > 0) throw new Error(`the SDK bundles' code caches: ${problems.join("; ")}`);
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(entry)) throw err; // else another worker made the same folder first
    return entry;
  }
  // Builds not used for an hour (earlier sources, or another checkout's): a test file that uses
  // one touches it first, and takes a minute at most.
  const hourAgo = Date.now() - 3600_000;
  for (const name of fs.readdirSync(sharedTmp())) {
    const old = path.join(sharedTmp(), name);
    if (!name.startsWith("hpc-batch-test-cli-") || old === dir) continue;
    const modified = fs.statSync(old, { throwIfNoEntry: false })?.mtimeMs ?? Infinity;
    if (modified < hourAgo) fs.rmSync(old, { recursive: true, force: true });
  }
  return entry;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves when the process ends, with its exit code (null if killed) and output. */
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Starts `node <entry> <args>` in `cwd`; node_modules come from the repository. */
export function startCli(
  entry: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): CliProcess {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NODE_PATH: path.join(ROOT, "node_modules"), ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}
