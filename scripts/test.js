#!/usr/bin/env node
// `npm test`: makes a throwaway self-signed certificate for the suite's local HTTPS stand-ins
// (Azure's SDKs refuse bearer tokens over plain http), trusts it through NODE_EXTRA_CA_CERTS,
// which Node reads only at start-up, then runs jest in a child process with that variable set.
// Extra arguments go to jest: `npm test -- tests/lib/package/zip.test.ts`.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { makeTestTls } = require("./tls");

const tls = makeTestTls("scripts/test.js");
const dir = tls.dir;
const env = {
  ...process.env,
  ...tls.env,
  HPC_BATCH_TEST_SUMMARY: path.join(dir, "summary.txt"),
};
const jest = require.resolve("jest/bin/jest");
const res = spawnSync(process.execPath, [jest, ...process.argv.slice(2)], {
  stdio: "inherit",
  env,
});
if (fs.existsSync(env.HPC_BATCH_TEST_SUMMARY)) {
  process.stdout.write(fs.readFileSync(env.HPC_BATCH_TEST_SUMMARY, "utf8"));
}
tls.remove();
process.exit(res.status === null ? 1 : res.status);
