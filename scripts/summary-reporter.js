// Writes the run's counts for scripts/test.js, which prints them as the very last line
// ("tests: N passed, N failed, N skipped") so CI and humans need not parse jest's table.
"use strict";
const fs = require("node:fs");
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.HPC_BATCH_TEST_SUMMARY;
    if (!file) return;
    const skipped = results.numPendingTests + results.numTodoTests;
    fs.writeFileSync(
      file,
      `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
