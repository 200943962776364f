// One run's temporary folder for `npm test` and `npm run bench`: everything the run puts in the
// temp directory goes inside it (the scripts point TMPDIR at it for their child processes), and it
// is removed when the run ends. A run killed before its end (a cancelled CI job, Ctrl-C, a
// timeout) leaves its folder: the next run of the same kind removes the folders whose process is
// gone, so a runner's temp directory does not fill up (a killed suite left up to 90 MB each).
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

/** Whether process `pid` is running (EPERM: it is, under another user). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * Removes `<tmpRoot>/hpc-batch-<kind>-run-<pid>-*` folders whose process has ended; answers
 * their paths. A pid reused by another process keeps its folder until a later run.
 */
function sweepRunDirs(kind, tmpRoot = os.tmpdir()) {
  const pattern = new RegExp(`^hpc-batch-${kind}-run-(\\d+)-`);
  const removed = [];
  for (const name of fs.readdirSync(tmpRoot)) {
    const m = pattern.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const dir = path.join(tmpRoot, name);
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * A new `<tmpRoot>/hpc-batch-<kind>-run-<pid>-XXXXXX` folder, after sweeping the folders of
 * ended runs (`swept`); `remove` deletes it with all it holds.
 */
function makeRunDir(kind, tmpRoot = os.tmpdir()) {
  const swept = sweepRunDirs(kind, tmpRoot);
  const dir = fs.mkdtempSync(path.join(tmpRoot, `hpc-batch-${kind}-run-${process.pid}-`));
  return { dir, swept, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

module.exports = { makeRunDir, sweepRunDirs };
