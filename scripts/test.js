#!/usr/bin/env node
// `npm test`: makes a throwaway self-signed certificate for the suite's local HTTPS stand-ins
// (Azure's SDKs refuse bearer tokens over plain http), trusts it through NODE_EXTRA_CA_CERTS,
// which Node reads only at start-up, then runs jest in a child process with that variable set.
// Extra arguments go to jest: `npm test -- tests/lib/zip.test.ts`.
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-tls-"));
const key = path.join(dir, "key.pem");
const cert = path.join(dir, "cert.pem");
try {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { stdio: "pipe" },
  );
} catch (err) {
  console.error(`scripts/test.js: openssl could not make the test certificate: ${err.message}`);
  process.exit(2);
}
const env = {
  ...process.env,
  NODE_EXTRA_CA_CERTS: cert,
  HPC_BATCH_TEST_TLS_KEY: key,
  HPC_BATCH_TEST_TLS_CERT: cert,
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
fs.rmSync(dir, { recursive: true, force: true });
process.exit(res.status === null ? 1 : res.status);
