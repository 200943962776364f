#!/usr/bin/env node
// Runs the compiled CLI; `npm ci` builds it through the `prepare` script.
"use strict";
require("../dist/cli/main.js")
  .main(process.argv)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`hpc-batch: ${err && err.message ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
