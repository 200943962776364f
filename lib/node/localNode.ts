/**
 * A Batch-like Linux node on this machine: the package unpacked under `applications/`, a task
 * directory under `workitems/`, the variables a task sees, and the task's command line run as
 * Batch runs it (split into argv, no shell of its own, so `/bin/sh -c '...'`). Used by
 * `hpc-batch local-run` to try a package before it is published.
 *
 * Layout, as documented (MicrosoftDocs/azure-docs articles/batch/files-and-directories.md and
 * batch-compute-node-environment-variables.md) and as seen on Ubuntu nodes
 * (fabiochristiano/xva-azure-batch-poc src/apoio/apoio.sh, a 2024 `env` dump of a task):
 *
 *   AZ_BATCH_NODE_ROOT_DIR      <root>                      (/mnt/batch/tasks on a node)
 *   applications/<appid lower-case><version><YYYY-MM-DD-HH-MM>   the unpacked package
 *   shared/  startup/wd/  fsmounts/
 *   workitems/<job>/job-1/<task>/            AZ_BATCH_TASK_DIR: stdout.txt, stderr.txt, certs/
 *   workitems/<job>/job-1/<task>/wd/         AZ_BATCH_TASK_WORKING_DIR, HOME and the cwd
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  appPackageEnvVarNames,
  PackageRef,
  SmokeTask,
  smokeTask,
  splitCommandLine,
} from "./smokeTask";
import { extractZip } from "../package/zipInspect";

export interface NodeLayout {
  root: string;
  applications: string;
  shared: string;
  startup: string;
  mounts: string;
  /** The unpacked package: what `AZ_BATCH_APP_PACKAGE_<id>_<version>` points at. */
  packageDir: string;
  taskDir: string;
  workingDir: string;
  certsDir: string;
  stdout: string;
  stderr: string;
}

export interface NodeIds {
  jobId: string;
  taskId: string;
  pkg: PackageRef;
  /** When the package version was activated; nodes suffix the package folder with it. */
  activatedAt: Date;
}

/** `YYYY-MM-DD-HH-MM` in UTC, the suffix nodes put on package folders. */
function folderStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}`;
}

/** The paths of a node rooted at `root` running one task of a (non-scheduled) job. */
export function nodeLayout(root: string, ids: NodeIds): NodeLayout {
  const applications = path.join(root, "applications");
  const taskDir = path.join(root, "workitems", ids.jobId, "job-1", ids.taskId);
  const pkgFolder = `${ids.pkg.applicationId.toLowerCase()}${ids.pkg.version}${folderStamp(ids.activatedAt)}`;
  return {
    root,
    applications,
    shared: path.join(root, "shared"),
    startup: path.join(root, "startup"),
    mounts: path.join(root, "fsmounts"),
    packageDir: path.join(applications, pkgFolder),
    taskDir,
    workingDir: path.join(taskDir, "wd"),
    certsDir: path.join(taskDir, "certs"),
    stdout: path.join(taskDir, "stdout.txt"),
    stderr: path.join(taskDir, "stderr.txt"),
  };
}

/** The pool and node ids the local node reports. */
export const LOCAL_POOL_ID = "local-run";
export const LOCAL_NODE_ID = "local-node";

/**
 * The whole environment a task process gets on a Linux node: Batch starts tasks with a clean
 * environment (the caller's variables, Azure credentials included, do not leak in), PATH extended
 * with the shared and working directories, HOME the working directory.
 */
export function taskEnvironment(
  layout: NodeLayout,
  ids: Pick<NodeIds, "jobId" | "taskId" | "pkg">,
  isDefaultVersion: boolean,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${layout.shared}:${layout.workingDir}`,
    HOME: layout.workingDir,
    AZ_BATCH_NODE_ROOT_DIR: layout.root,
    AZ_BATCH_NODE_SHARED_DIR: layout.shared,
    AZ_BATCH_NODE_STARTUP_DIR: layout.startup,
    AZ_BATCH_NODE_MOUNTS_DIR: layout.mounts,
    AZ_BATCH_NODE_ID: LOCAL_NODE_ID,
    AZ_BATCH_NODE_IS_DEDICATED: "true",
    AZ_BATCH_POOL_ID: LOCAL_POOL_ID,
    AZ_BATCH_JOB_ID: ids.jobId,
    AZ_BATCH_TASK_ID: ids.taskId,
    AZ_BATCH_TASK_DIR: layout.taskDir,
    AZ_BATCH_TASK_WORKING_DIR: layout.workingDir,
    AZ_BATCH_CERTIFICATES_DIR: layout.certsDir,
  };
  for (const name of appPackageEnvVarNames(ids.pkg.applicationId, ids.pkg.version)) {
    env[name] = layout.packageDir;
  }
  if (isDefaultVersion) {
    for (const name of appPackageEnvVarNames(ids.pkg.applicationId)) env[name] = layout.packageDir;
  }
  return env;
}

export interface LocalRunOptions {
  /** The package zip to unpack (as `hpc-batch package` builds it). */
  zipPath: string;
  pkg: PackageRef;
  /** Whether the version is the application's default (sets the unversioned variable). */
  isDefaultVersion: boolean;
  /** Defaults to the smoke task for `pkg`. */
  task?: SmokeTask;
  /** Defaults to `local-run`. */
  jobId?: string;
  /** Keep the node folder afterwards. Defaults to false: it is removed. */
  keep?: boolean;
  /** Where the node folder is created. Defaults to the OS temp directory. */
  parentDir?: string;
  /** Kills the task after this long. Defaults to 10 minutes, the smoke task's wall-clock limit. */
  timeoutMs?: number;
}

export interface OutputFile {
  /** Relative to the task working directory, `/`-separated. */
  path: string;
  bytes: number;
}

export interface LocalRunResult {
  ok: boolean;
  exitCode: number | null;
  /** Set when the task was killed (timeout) or died of a signal. */
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  commandLine: string;
  layout: NodeLayout;
  /** True when the node folder still exists (`keep`). */
  kept: boolean;
  stdout: string;
  stderr: string;
  /** Every file the task left in its working directory, sorted by path. */
  outputs: OutputFile[];
  env: Record<string, string>;
}

function listFiles(dir: string, prefix = ""): OutputFile[] {
  const out: OutputFile[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(full, rel));
    else if (e.isFile()) out.push({ path: rel, bytes: fs.statSync(full).size });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Unpacks the package into a fresh node layout, runs the task there and reports. */
export async function runOnLocalNode(opts: LocalRunOptions): Promise<LocalRunResult> {
  const task = opts.task ?? smokeTask(opts.pkg);
  const jobId = opts.jobId ?? "local-run";
  const root = fs.mkdtempSync(path.join(opts.parentDir ?? os.tmpdir(), "hpc-batch-node-"));
  const ids: NodeIds = { jobId, taskId: task.id, pkg: opts.pkg, activatedAt: new Date() };
  const layout = nodeLayout(root, ids);
  try {
    const startupWd = path.join(layout.startup, "wd");
    for (const dir of [
      layout.shared,
      startupWd,
      layout.mounts,
      layout.workingDir,
      layout.certsDir,
    ]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    await extractZip(opts.zipPath, layout.packageDir);
    const env = taskEnvironment(layout, ids, opts.isDefaultVersion);
    const [file, ...args] = splitCommandLine(task.commandLine);
    const run = await runProcess(file, args, {
      cwd: layout.workingDir,
      env,
      stdout: layout.stdout,
      stderr: layout.stderr,
      timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    });
    const outputs = listFiles(layout.workingDir);
    return {
      ok: run.exitCode === 0,
      ...run,
      commandLine: task.commandLine,
      layout,
      kept: opts.keep === true,
      stdout: fs.readFileSync(layout.stdout, "utf8"),
      stderr: fs.readFileSync(layout.stderr, "utf8"),
      outputs,
      env,
    };
  } finally {
    if (opts.keep !== true) fs.rmSync(root, { recursive: true, force: true });
  }
}

interface ProcessRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
}

/** Runs argv with stdout and stderr going to files, as the node agent does. */
function runProcess(
  file: string,
  args: string[],
  o: {
    cwd: string;
    env: Record<string, string>;
    stdout: string;
    stderr: string;
    timeoutMs: number;
  },
): Promise<ProcessRun> {
  const out = fs.openSync(o.stdout, "w");
  const err = fs.openSync(o.stderr, "w");
  const started = process.hrtime.bigint();
  return new Promise<ProcessRun>((resolve) => {
    // Its own process group, so a timeout kills the shell and the ffmpeg it started.
    const child = spawn(file, args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ["ignore", out, err],
      detached: true,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }, o.timeoutMs);
    let done = false;
    const finish = (exitCode: number | null, signal: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fs.closeSync(out);
      fs.closeSync(err);
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ exitCode, signal, timedOut, durationMs });
    };
    child.on("error", (e) => {
      if (!done) fs.writeSync(err, `${file}: ${e.message}\n`);
      finish(127, null);
    });
    child.on("exit", (code, signal) => finish(code, signal));
  });
}
