// One run's temporary folder for `npm test` and `npm run bench`: everything the run puts in the
// temp directory goes inside it (the scripts point TMPDIR at it for their child processes), and it
// is removed when the run ends. A run killed before its end (a cancelled CI job, Ctrl-C, a
// timeout) leaves its folder: the next run of the same kind removes the folders whose processes
// are gone, so a runner's temp directory does not fill up (a killed suite left up to 90 MB each).
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

/** The file in a run's folder listing the pids of its other processes (jest, the bench), one per line. */
const PIDS = "pids";

/**
 * Whether process `pid` is running (EPERM: it is, under another user). The twin of
 * lib/core/interrupt.ts isProcessAlive, which this script cannot load: it runs before and without
 * a build (jest transpiles the sources itself).
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** The run folder's processes: the one in its name and the ones it lists. */
function runPids(dir, namePid) {
  let listed = [];
  try {
    listed = fs.readFileSync(path.join(dir, PIDS), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    // none listed (yet)
  }
  return [namePid, ...listed];
}

/**
 * Removes `<tmpRoot>/hpc-batch-<kind>-run-<pid>-*` folders of this user whose processes have all
 * ended; answers their paths. Another user's folder, or one that cannot be removed, is left alone
 * (a shared /tmp: not ours to remove); a pid reused by another process keeps its folder until a
 * later run. `uid`: this user's (a parameter for tests).
 */
function sweepRunDirs(kind, tmpRoot = os.tmpdir(), uid = process.getuid?.()) {
  const pattern = new RegExp(`^hpc-batch-${kind}-run-(\\d+)-`);
  const removed = [];
  for (const name of fs.readdirSync(tmpRoot)) {
    const m = pattern.exec(name);
    if (!m) continue;
    const dir = path.join(tmpRoot, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (runPids(dir, Number(m[1])).some(alive)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone meanwhile, or not removable: left alone
    }
  }
  return removed;
}

/**
 * A new `<tmpRoot>/hpc-batch-<kind>-run-<pid>-XXXXXX` folder, after sweeping the folders of
 * ended runs (`swept`). `addPid` records another process of the run (the folder is its while it
 * runs, even if this one is killed); `remove` deletes the folder with all it holds and answers
 * why it could not, if it could not (the next run removes it).
 */
function makeRunDir(kind, tmpRoot = os.tmpdir()) {
  const swept = sweepRunDirs(kind, tmpRoot);
  const dir = fs.mkdtempSync(path.join(tmpRoot, `hpc-batch-${kind}-run-${process.pid}-`));
  return {
    dir,
    swept,
    addPid: (pid) => fs.appendFileSync(path.join(dir, PIDS), `${pid}\n`),
    remove: () => {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        return undefined;
      } catch (err) {
        return `could not remove ${dir} (${err.message}): the next run removes it`;
      }
    },
  };
}

/** The exit code of a process ended by `signal`, as shells report it (SIGINT 130, SIGTERM 143). */
function signalExitCode(signal) {
  return 128 + (os.constants.signals[signal] ?? 0);
}

module.exports = { makeRunDir, signalExitCode, sweepRunDirs };
