/**
 * The hpc-batch CLI as a process of its own, run from the current sources: for tests that
 * interrupt, kill or re-run a real run (signals need a process; a stale `dist/` must not decide a
 * test). `compileCli` transpiles cli/, lib/ and policy/ once into a folder (TypeScript's
 * transpileModule, as ts-jest does) with an entry that does what bin/hpc-batch.js does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..", "..");

/** Transpiles the CLI's sources into `dest`; returns the entry script. */
export function compileCli(dest: string): string {
  const compilerOptions: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
  };
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        const out = path.join(dest, r.replace(/\.ts$/, ".js"));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        const source = fs.readFileSync(path.join(ROOT, r), "utf8");
        fs.writeFileSync(out, ts.transpileModule(source, { compilerOptions }).outputText);
      }
    }
  };
  for (const dir of ["cli", "lib", "policy"]) walk(dir);
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(dest, "package.json"));
  const entry = path.join(dest, "hpc-batch.js");
  fs.writeFileSync(entry, '"use strict";\nrequire("./cli/main.js").run(process.argv);\n');
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
