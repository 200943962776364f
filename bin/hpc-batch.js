#!/usr/bin/env node
// Runs the compiled CLI (dist/cli/main.js; `npm ci` builds it through the `prepare` script, and
// `npm run build` rebuilds it). Signals, exit codes and messages are handled in `run`.
"use strict";
require("../dist/cli/main.js").run(process.argv);
