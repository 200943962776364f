#!/usr/bin/env node
// `npm test`: makes a throwaway self-signed certificate for the suite's local HTTPS stand-ins
// (Azure's SDKs refuse bearer tokens over plain http), trusts it through NODE_EXTRA_CA_CERTS,
// which Node reads only at start-up, then runs jest in a child process with that variable set.
// Extra arguments go to jest: `npm test -- tests/lib/package/zip.test.ts`.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { makeRunDir, signalExitCode } = require("./runDir");
const { makeTestTls } = require("./tls");

// Every temp file and folder of the run (the tests', the CLIs' they start, the certificate's) goes
// into one folder, removed at the end; the folders of killed runs go at the next run's start.
// What is meant to outlive a run (jest's transform cache, the tests' compiled CLI) stays in the
// temp directory itself, HPC_BATCH_TEST_SHARED_TMP.
const shared = os.tmpdir();
const run = makeRunDir("test", shared);
for (const dir of run.swept)
  console.error(`npm test: removed ${dir} (left by a run that was killed)`);
// On every way out, an early one included (openssl failing exits in makeTestTls).
process.on("exit", () => {
  const problem = run.remove();
  if (problem) console.error(`npm test: ${problem}`);
});
const tls = makeTestTls("scripts/test.js", run.dir);
const env = {
  ...process.env,
  ...tls.env,
  TMPDIR: run.dir,
  HPC_BATCH_TEST_SHARED_TMP: shared,
  HPC_BATCH_TEST_SUMMARY: path.join(run.dir, "summary.txt"),
  // `npm test` alone, as CI runs it: the whole suite (jest.config.js then replaces workers that
  // grow; for a file or two, jest keeps running them in its own process).
  HPC_BATCH_TEST_WHOLE_SUITE: process.argv.length > 2 ? "" : "1",
};
const jest = require.resolve("jest/bin/jest");
const child = spawn(process.execPath, [jest, ...process.argv.slice(2)], { stdio: "inherit", env });
run.addPid(child.pid);
// Ctrl-C or a cancelled job: jest is told, and this process cleans up once it has ended.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  if (fs.existsSync(env.HPC_BATCH_TEST_SUMMARY)) {
    process.stdout.write(fs.readFileSync(env.HPC_BATCH_TEST_SUMMARY, "utf8"));
  }
  process.exit(code ?? signalExitCode(signal));
});
