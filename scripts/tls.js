// A throwaway self-signed certificate for the local HTTPS stand-ins (Azure's SDKs refuse bearer
// tokens over plain http), and the environment that trusts it: NODE_EXTRA_CA_CERTS is read only
// when Node starts, so callers run their work in a child process with `env`.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

/**
 * Creates the certificate in a new folder under `parent` (the temp directory by default); exits
 * 2 with `who`'s name if openssl fails.
 */
function makeTestTls(who, parent = os.tmpdir()) {
  const dir = fs.mkdtempSync(path.join(parent, "hpc-batch-tls-"));
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
    console.error(`${who}: openssl could not make the test certificate: ${err.message}`);
    process.exit(2);
  }
  return {
    dir,
    env: { NODE_EXTRA_CA_CERTS: cert, HPC_BATCH_TEST_TLS_KEY: key, HPC_BATCH_TEST_TLS_CERT: cert },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

module.exports = { makeTestTls };
