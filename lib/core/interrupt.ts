/**
 * Interruptions: what a run leaves behind when it is stopped.
 *
 * - Temporary paths a run creates (a zip's `.partial` file, a staging copy, a temp folder) are
 *   tracked while they exist; on SIGINT or SIGTERM the CLI removes them synchronously, prints one
 *   line and exits 130 (cli/main.ts `run`).
 * - A run killed outright (SIGKILL, power loss) cannot clean up, so every such path carries its
 *   process id, and the next run removes the ones whose process no longer exists
 *   (`sweepLeftovers`). A path of a live process is never touched: it may be another run's.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const tracked = new Set<string>();

/** Marks `p` (a file or folder) for removal if the run is interrupted. Returns `p`. */
export function trackTemp(p: string): string {
  tracked.add(p);
  return p;
}

/** `p` was removed or renamed into place: an interruption must leave it alone. */
export function untrackTemp(p: string): void {
  tracked.delete(p);
}

/** Removes every tracked path, synchronously (a signal handler cannot wait). */
export function removeTracked(): void {
  for (const p of tracked) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: the next run's sweep removes what is left
    }
  }
  tracked.clear();
}

/** True while a process with this id exists (EPERM: it exists, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the entries of `dir` whose name matches `pattern` (its first matched group: a process id) and
 * whose process no longer exists. Returns the names removed. A missing `dir` removes nothing.
 */
export function sweepLeftovers(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m.slice(1).find((g) => g !== undefined));
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // another sweeper got there first, or no permission: leave it
    }
  }
  return removed;
}

/** The exit code of a run ended by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C). */
export const EXIT_INTERRUPTED = 130;

/**
 * On SIGINT or SIGTERM: remove the tracked paths, write `hpc-batch <command>: interrupted` and
 * exit 130. For the process entry point only (bin/hpc-batch.js), never for in-process runs.
 */
export function exitOnInterrupt(command: () => string | undefined): void {
  const handler = () => {
    removeTracked();
    const cmd = command();
    // On a terminal the line starts after the echoed ^C; elsewhere it is the only line.
    const lead = process.stderr.isTTY ? "\n" : "";
    process.stderr.write(`${lead}hpc-batch${cmd ? ` ${cmd}` : ""}: interrupted\n`);
    process.exit(EXIT_INTERRUPTED);
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

/** The waits of `pausePoint`, held for the life of the process. */
const pausedRuns: Promise<never>[] = [];

/**
 * A test hook: when HPC_BATCH_TEST_PAUSE_AT names `point`, writes the point's name to the file
 * HPC_BATCH_TEST_PAUSE_FILE and waits until the process is signalled, so a test can interrupt a
 * run at a known point without timing it. Does nothing otherwise.
 */
export async function pausePoint(point: string): Promise<void> {
  if (process.env.HPC_BATCH_TEST_PAUSE_AT !== point) return;
  const file = process.env.HPC_BATCH_TEST_PAUSE_FILE;
  const paused = () => {
    if (file) fs.writeFileSync(file, point);
  };
  // An interval keeps the event loop alive; only a signal ends the wait. The wait is kept
  // reachable: a promise nothing refers to would let the garbage collector take the paused run
  // with it, closing its open files with a warning on stderr (seen in CI on a busy machine).
  const wait = new Promise<never>(() => setInterval(() => undefined, 60_000));
  pausedRuns.push(wait);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    // Under `--expose-gc` (the interrupt tests): two collections once this run is suspended
    // below (the second runs what the first found unreachable), then the pause is announced.
    setImmediate(() => {
      gc();
      setTimeout(() => {
        gc();
        paused();
      }, 10);
    });
  } else {
    paused();
  }
  await wait;
}
