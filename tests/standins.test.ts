/**
 * The stand-ins' own hygiene: Azurite, a process of its own, never outlives the process that
 * started it, even when that one ends without stopping it (a jest worker force-exited after its
 * grace period, a bench run interrupted).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startAzurite } from "../standins/azurite";

const ROOT = path.resolve(__dirname, "..");
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-standins-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * True while the process runs. An exited process its parent has not reaped (a zombie: in a
 * container whose init does not reap orphans) still answers kill(pid, 0): its state says.
 */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...", the command may hold spaces and parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (not Linux): kill(pid, 0) is the answer
  }
};

test("Azurite ends with the process that started it, stopped or not", async () => {
  // A parent that starts Azurite from the sources (transpiled as ts-jest does), prints its pid,
  // and exits without calling stop().
  const register = path.join(tmp, "register.js");
  fs.writeFileSync(
    register,
    `const fs = require("node:fs");
const ts = require(${JSON.stringify(path.join(ROOT, "node_modules", "typescript"))});
require.extensions[".ts"] = (m, file) => m._compile(ts.transpileModule(fs.readFileSync(file, "utf8"), {
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
}).outputText, file);
`,
  );
  const parent = spawn(
    process.execPath,
    [
      "-r",
      register,
      "-e",
      `require(${JSON.stringify(path.join(ROOT, "standins", "azurite.ts"))}).startAzurite()` +
        ".then((a) => { process.stdout.write(a.pid + '\\n'); process.exit(0); })",
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  parent.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => parent.on("close", resolve));
  expect(code).toBe(0);
  const pid = Number(out.trim());
  expect(pid).toBeGreaterThan(0);
  try {
    // Until it is gone, for at most 50 s (under the test's 60 s: the loop must end, so that the
    // finally below kills a survivor; a busy machine is only slower, never 50 s slower).
    const deadline = Date.now() + 50_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  } finally {
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
  expect(alive(pid)).toBe(false);
}, 60_000);

test("stop() ends Azurite (the pipe it watches keeps nothing alive)", async () => {
  const azurite = await startAzurite();
  expect(alive(azurite.pid)).toBe(true);
  await azurite.stop();
  expect(alive(azurite.pid)).toBe(false);
}, 60_000);
