// The stack builds its package before it registers anything: a package folder that must be
// refused stops the program before any resource or invoke reaches the engine (no cloud call).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { simulate } from "./helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-package-first-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const folder = path.join(tmp, "app");
fs.mkdirSync(folder);
fs.writeFileSync(path.join(folder, "run.sh"), "#!/bin/sh\n");
fs.symlinkSync("/etc/passwd", path.join(folder, "passwd"));

const sim = simulate({
  project: "hpc-batch",
  stack: "dev",
  config: {
    "azure-native:location": "westeurope",
    "hpc-batch:applicationFolder": folder,
    "hpc-batch:batchApplicationVersion": "1.0.0",
  },
  call: ({ token }) => {
    throw new Error(`unexpected invoke ${token}`);
  },
});

test("a package folder with a symlink leaving it: refused, nothing registered, nothing invoked", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../index") as () => Promise<unknown>;
  await expect(program()).rejects.toThrow(
    `path in package folder "${folder}" "passwd" is invalid: must be a symlink to a file inside the folder (it points to "/etc/passwd", outside)`,
  );
  await sim.settle();
  expect(sim.registrations).toEqual([]);
  expect(sim.invocations).toEqual([]);
});
