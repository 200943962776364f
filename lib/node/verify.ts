/**
 * `hpc-batch verify`: proves a deployed stack works, automating "Testing your environment" of the
 * classic recipe. It checks the application version is Active and the default (ARM), the pool is
 * steady with a usable node (optionally resizing a fixed-scale pool first and always scaling it
 * back), runs the smoke task as a job (package referenced by the task), reports its exit code,
 * failure information and stdout, and always deletes the job.
 *
 * With `promote`, the version need not be the default yet: the smoke task is then its canary. It
 * references the version at task level, so Batch installs it on the node just before the task
 * runs while the pool's nodes keep the default (batch-facts.md), and only when it passes does the
 * version become the default (ARM PATCH of the application).
 */
import type { TokenCredential } from "@azure/identity";
import type { BatchApplications } from "../azure/armBatchApps";
import { batchDataCredential, type Credentials } from "../azure/credentials";
import {
  BatchData,
  describeBatchError,
  NodeStatus,
  PoolStatus,
  TaskStatus,
} from "../azure/batchData";
import { InputError, throwIfAny } from "../core/errors";
import { createProgressPrinter, formatDuration, type ProgressStream } from "../core/progress";
import {
  GUID_RE,
  isHttpsEndpoint,
  validateApplicationId,
  validateApplicationVersion,
  validateBatchAccountName,
  validateResourceGroupName,
} from "../core/naming";
import { SmokeTask, smokeTask } from "./smokeTask";
import type { Rollout } from "../publish/defaultVersion";

/** What verify needs to know about a deployed stack. */
export interface VerifyTarget {
  subscriptionId: string;
  resourceGroupName: string;
  accountName: string;
  /** The account's data-plane endpoint, e.g. `acct.westeurope.batch.azure.com`. */
  batchEndpoint: string;
  poolId: string;
  applicationId: string;
  version: string;
}

/**
 * The ARM calls verify makes (lib/azure/armBatchApps.ts, api-version 2025-06-01): two reads, and with
 * `promote` the PATCH of the application's default version.
 */
export type ApplicationCalls = Pick<
  BatchApplications,
  "getApplication" | "getVersion" | "updateApplication"
>;

/** Reports progress while verify waits; the CLI draws a bar on a TTY and lines in CI. */
export interface VerifyProgress {
  /** A finished step, one line. */
  step(ok: boolean, message: string): void;
  /**
   * Each poll of what verify waits for (`pool <id>`, `a usable node`, `task smoke`) with its
   * current state (for the task: active, preparing, running, completed).
   */
  waiting(what: string, state: string, elapsedMs: number): void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  jobId?: string;
  task?: TaskStatus;
  /** The task's stdout.txt (set once the task ran). */
  stdout?: string;
  /** The task's stderr.txt, fetched when the task failed after it ran. */
  stderr?: string;
  resize?: { from: { dedicated: number; lowPriority: number }; to: number; restored: boolean };
  /** Set when `promote` made the version the default: the change and the pool's nodes after it. */
  rollout?: Rollout;
  durationMs: number;
}

export interface VerifyOptions {
  target: VerifyTarget;
  batch: BatchData;
  /** The application's ARM calls, bound to the target's account. */
  apps: ApplicationCalls;
  /**
   * Accept a version that is not the default yet, run the smoke task as its canary and make it the
   * default only when the canary passes. Without it, the version must already be the default.
   */
  promote?: boolean;
  /** Resize the (fixed-scale) pool to this many dedicated nodes first; scale back after. */
  nodes?: number;
  /** Limit for everything verify waits for before cleanup. */
  timeoutMs: number;
  /** Extra time cleanup may wait for a resize to stop. Defaults to 10 minutes. */
  cleanupTimeoutMs?: number;
  /** Delay between polls. Defaults to 5 seconds. */
  pollMs?: number;
  /** Defaults to `hpc-batch-verify-<UTC timestamp>`. */
  jobId?: string;
  progress?: VerifyProgress;
  /** Injected in tests; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected in tests; defaults to Date.now. */
  now?: () => number;
}

const USABLE = new Set(["idle", "running"]);
/** Node states from which a node may still become usable without anyone acting. */
const COMING = new Set(["creating", "starting", "waitingforstarttask", "rebooting", "reimaging"]);
const TASK_STATES = ["active", "preparing", "running", "completed"];

const silent: VerifyProgress = { step() {}, waiting() {} };

/** A job id unique enough for a smoke run: `hpc-batch-verify-20250101t120000z`. */
export function verifyJobId(at: Date): string {
  return `hpc-batch-verify-${at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "z")
    .toLowerCase()}`;
}

class Deadline extends Error {}

export async function verifyDeployment(opts: VerifyOptions): Promise<VerifyReport> {
  const { target: t, batch } = opts;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pollMs = opts.pollMs ?? 5000;
  const progress = opts.progress ?? silent;
  const started = now();
  const deadline = started + opts.timeoutMs;
  const report: VerifyReport = { ok: false, checks: [], durationMs: 0 };
  const check = (name: string, ok: boolean, detail: string) => {
    report.checks.push({ name, ok, detail });
    progress.step(ok, `${name}: ${detail}`);
    return ok;
  };

  /** Polls `read` until `done` holds; throws Deadline, naming the last state, past `until`. */
  async function waitFor<T>(
    what: string,
    read: () => Promise<T>,
    done: (x: T) => boolean,
    describe: (x: T) => string,
    until = deadline,
  ): Promise<T> {
    for (;;) {
      const x = await read();
      const state = describe(x);
      progress.waiting(what, state, now() - started);
      if (done(x)) return x;
      if (now() + pollMs > until) throw new Deadline(`${what}: still ${state}`);
      await sleep(pollMs);
    }
  }

  const waitSteady = (until?: number) =>
    waitFor(
      `pool ${t.poolId}`,
      () => batch.getPool(t.poolId),
      (p) => p.allocationState === "steady",
      (p) => p.allocationState,
      until,
    );

  let jobCreated = false;
  /** With `promote`, the default the version must replace once its canary passes. */
  let canary: { previous?: string } | undefined;
  try {
    await steps();
  } catch (err) {
    if (err instanceof Deadline) {
      const limit = +(opts.timeoutMs / 1000).toFixed(1);
      check("timeout", false, `gave up after ${limit} s waiting for ${err.message}`);
    } else {
      check("batch call", false, describeBatchError(err));
    }
  } finally {
    await cleanup();
  }
  if (canary) await promote(canary.previous);
  report.ok = report.checks.every((c) => c.ok);
  report.durationMs = now() - started;
  return report;

  /** The checks in order; each failed gate returns early (cleanup still runs). */
  async function steps(): Promise<void> {
    // 1. The application version: Active (usable by nodes) and the default.
    const version = await opts.apps.getVersion(t.applicationId, t.version);
    const application = await opts.apps.getApplication(t.applicationId);
    const state = version?.state;
    const defaultVersion = application?.defaultVersion;
    const active = check(
      "package active",
      state === "Active",
      `${t.applicationId} ${t.version} ${state ? `is ${state}` : "does not exist"}`,
    );
    if (opts.promote && defaultVersion !== t.version) {
      canary = { previous: defaultVersion };
      check(
        "default version",
        true,
        `${t.applicationId} defaults to ${defaultVersion ?? "no version"}; ${t.version} runs as a canary first`,
      );
    } else {
      check(
        "default version",
        defaultVersion === t.version,
        defaultVersion === t.version
          ? `${t.applicationId} defaults to ${t.version}`
          : `${t.applicationId} defaults to ${defaultVersion ?? "no version"}, not ${t.version}`,
      );
    }
    if (!active) return;

    // 2. The pool: active, optionally resized, then steady.
    let pool: PoolStatus = await batch.getPool(t.poolId);
    if (pool.state !== "active") {
      check("pool steady", false, `pool ${t.poolId} is ${pool.state}`);
      return;
    }
    if (opts.nodes !== undefined) {
      if (pool.enableAutoScale) {
        check("pool resized", false, `--nodes needs a fixed-scale pool; ${t.poolId} autoscales`);
        return;
      }
      // Batch resizes only a steady pool (409 otherwise): Pool_Resize in BatchService.json.
      if (pool.allocationState !== "steady") pool = await waitSteady();
      const from = {
        dedicated: pool.targetDedicatedNodes,
        lowPriority: pool.targetLowPriorityNodes,
      };
      if (from.dedicated !== opts.nodes) {
        await batch.resizePool(t.poolId, { dedicated: opts.nodes, lowPriority: from.lowPriority });
        report.resize = { from, to: opts.nodes, restored: false };
        progress.step(true, `pool ${t.poolId}: resizing to ${opts.nodes} dedicated node(s)`);
      }
    }
    if (pool.allocationState !== "steady" || report.resize) pool = await waitSteady();
    const errors = pool.resizeErrors.length
      ? `; resize errors: ${pool.resizeErrors.join("; ")}`
      : "";
    check(
      "pool steady",
      true,
      `${t.poolId} is steady with ${pool.currentDedicatedNodes} dedicated and ${pool.currentLowPriorityNodes} spot node(s)${errors}`,
    );

    // 3. A usable node (idle or running, scheduling enabled). An autoscale pool at 0 nodes (the
    //    dev stack's, idle) grows only once tasks are pending: submit the smoke task first and
    //    let the task's wait cover the scale-up (formula sample window, evaluation, node boot).
    const empty = pool.currentDedicatedNodes + pool.currentLowPriorityNodes === 0;
    if (empty && pool.enableAutoScale) {
      check(
        "usable node",
        true,
        `${t.poolId} autoscales from 0 nodes: the smoke task's pending task will scale it up`,
      );
    } else {
      if (empty) {
        check("usable node", false, `${t.poolId} has no nodes${errors}; rerun with --nodes 1`);
        return;
      }
      const usable = (ns: NodeStatus[]) =>
        ns.filter((n) => USABLE.has(n.state) && n.schedulingState === "enabled");
      const nodes = await waitFor(
        "a usable node",
        () => batch.listNodes(t.poolId),
        (ns) => usable(ns).length > 0 || !ns.some((n) => COMING.has(n.state)),
        summarizeNodes,
      );
      if (!check("usable node", usable(nodes).length > 0, summarizeNodes(nodes))) return;
    }

    // 4. The smoke job: open while the task is added, then set to end with its tasks.
    const task: SmokeTask = smokeTask({ applicationId: t.applicationId, version: t.version });
    report.jobId = opts.jobId ?? verifyJobId(new Date(now()));
    await batch.addJob(report.jobId, t.poolId);
    jobCreated = true;
    await batch.addTask(report.jobId, task);
    await batch.terminateJobWhenTasksComplete(report.jobId);
    progress.step(true, `job ${report.jobId}: task ${task.id} submitted`);

    // 5. Poll until the task completes.
    const jobId = report.jobId;
    const done = await waitFor(
      `task ${task.id}`,
      () => batch.getTask(jobId, task.id),
      (x) => x.state === "completed",
      (x) => x.state,
    );
    report.task = done;

    // 6. Its outcome: a task can complete with a failure and no exit code (it never ran).
    if (done.exitCode !== undefined) {
      report.stdout = await batch.readTaskFile(jobId, task.id, "stdout.txt");
      if (done.exitCode !== 0 || done.failureInfo) {
        report.stderr = await batch.readTaskFile(jobId, task.id, "stderr.txt");
      }
    }
    const failure = done.failureInfo
      ? `${done.failureInfo.category} ${done.failureInfo.code ?? ""}: ${done.failureInfo.message ?? ""}`.trim()
      : undefined;
    check(
      "smoke task",
      done.exitCode === 0 && !done.failureInfo,
      done.exitCode === undefined
        ? `did not run: ${failure ?? "no exit code"}`
        : `exit code ${done.exitCode}${failure ? ` (${failure})` : ""}${done.nodeId ? ` on ${done.nodeId}` : ""}`,
    );
  }

  /**
   * After the canary: makes the version the default only when every check passed (a failed
   * cleanup too stops it: the report must be all green to promote), then lists the pool's nodes
   * to tell which keep the old default.
   */
  async function promote(previous: string | undefined): Promise<void> {
    const still = `the default is still ${previous ?? "unset"}`;
    const failed = report.checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      const smoke = failed.find((c) => c.name === "smoke task");
      const why = smoke
        ? `its canary failed (${smoke.detail})`
        : `verify failed before its canary passed (${failed.map((c) => c.name).join(", ")})`;
      check(
        "promoted",
        false,
        `${t.applicationId} ${t.version} is not the default: ${why}; ${still}`,
      );
      return;
    }
    try {
      await opts.apps.updateApplication(t.applicationId, { defaultVersion: t.version });
    } catch (err) {
      check(
        "promoted",
        false,
        `${t.applicationId} ${t.version} passed its canary but setting it as the default failed (${describeBatchError(err)}); ${still}`,
      );
      return;
    }
    check(
      "promoted",
      true,
      `${t.applicationId} defaults to ${t.version} (was ${previous ?? "unset"})`,
    );
    const rollout: Rollout = {
      applicationId: t.applicationId,
      poolId: t.poolId,
      version: t.version,
      previous,
    };
    try {
      rollout.nodes = await batch.listNodes(t.poolId);
    } catch (err) {
      rollout.nodesError = describeBatchError(err);
    }
    report.rollout = rollout;
  }

  /** Deletes the job and scales the pool back, whatever happened before. */
  async function cleanup(): Promise<void> {
    if (jobCreated && report.jobId) {
      try {
        await batch.deleteJob(report.jobId);
        check("job deleted", true, report.jobId);
      } catch (err) {
        check("job deleted", false, `${report.jobId}: ${describeBatchError(err)}`);
      }
    }
    if (report.resize) {
      const { from } = report.resize;
      try {
        let pool = await batch.getPool(t.poolId);
        if (pool.allocationState !== "steady") {
          if (pool.allocationState === "resizing") await batch.stopResize(t.poolId);
          pool = await waitSteady(now() + (opts.cleanupTimeoutMs ?? 10 * 60_000));
        }
        await batch.resizePool(t.poolId, from);
        report.resize.restored = true;
        check("pool scaled back", true, `${t.poolId} to ${from.dedicated} dedicated node(s)`);
      } catch (err) {
        const why =
          err instanceof Deadline ? "the pool did not become steady" : describeBatchError(err);
        check(
          "pool scaled back",
          false,
          `${t.poolId} is still sized for ${report.resize.to} node(s) (${why}); resize it to ${from.dedicated}`,
        );
      }
    }
  }
}

/** `1 idle, 1 starting` style summary of node states. */
export function summarizeNodes(nodes: NodeStatus[]): string {
  if (nodes.length === 0) return "no nodes";
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const key = n.schedulingState === "disabled" ? `${n.state} (scheduling disabled)` : n.state;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([s, c]) => `${c} ${s}`).join(", ");
}

/** The task state's position in its life (0-3), for a progress bar. */
export function taskStateIndex(state: string): number {
  return Math.max(0, TASK_STATES.indexOf(state));
}

/**
 * Verify's progress on `stream` (lib/core/progress.ts): a line per finished step (`ok  ` or
 * `FAIL`); while it waits, a bar for the task on a terminal, else a line each time the state
 * changes.
 */
export function createVerifyPrinter(
  stream: ProgressStream,
  opts: { tty?: boolean } = {},
): VerifyProgress & { stop(): void } {
  const printer = createProgressPrinter(stream, opts);
  let last = "";
  return {
    step(ok, message) {
      printer.line(`${ok ? "ok  " : "FAIL"} ${message}`);
    },
    waiting(what, state, elapsedMs) {
      const elapsed = formatDuration(elapsedMs / 1000);
      if (printer.tty && what.startsWith("task ")) {
        if (!printer.drawing) {
          printer.startBar(3, {
            format: `${what} [{bar}] {state} {elapsed}`,
            payload: { state, elapsed },
          });
        }
        printer.updateBar(taskStateIndex(state), { state, elapsed });
        return;
      }
      const line = `${what}: ${state}`;
      if (line !== last) printer.line(`     waiting for ${line} (${elapsed})`);
      last = line;
    },
    stop: printer.stop,
  };
}

/** Parses `500ms`, `90s`, `15m`, `1h` or plain seconds into milliseconds. */
export function parseDuration(field: string, text: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) {
    throw new InputError(
      field,
      text,
      "must be a positive whole number of seconds, or like 500ms, 90s, 15m, 1h",
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

/**
 * Stack output names verify reads, in order of preference (index.ts exports the first of each).
 */
export const OUTPUT_NAMES: Record<keyof VerifyTarget, string[]> = {
  subscriptionId: ["subscriptionId"],
  resourceGroupName: ["resourceGroupName"],
  accountName: ["batchAccountName"],
  batchEndpoint: ["batchAccountEndpoint"],
  poolId: ["poolName", "poolId"],
  applicationId: ["applicationId", "batchApplicationId"],
  version: ["applicationVersion", "batchApplicationVersion"],
};

/**
 * The verify target from a stack's outputs (`pulumi stack output --json`). Throws an InputError
 * naming every missing output.
 */
export function targetFromOutputs(outputs: Record<string, unknown>, source: string): VerifyTarget {
  const target: Partial<VerifyTarget> = {};
  const missing: string[] = [];
  for (const [field, names] of Object.entries(OUTPUT_NAMES) as [keyof VerifyTarget, string[]][]) {
    const name = names.find((n) => typeof outputs[n] === "string" && outputs[n] !== "");
    if (name) target[field] = outputs[name] as string;
    else missing.push(names.join(" or "));
  }
  if (missing.length > 0) {
    throw new InputError(
      source,
      Object.keys(outputs),
      `must have the stack outputs ${missing.join(", ")}`,
    );
  }
  // The outputs file is input like any other: its names go into ARM URLs, and the Batch
  // endpoint receives a bearer token, so refuse what no deployed stack would output.
  const t = target as VerifyTarget;
  const problems: InputError[] = [];
  const check = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof InputError) problems.push(err);
      else throw err;
    }
  };
  const at = (name: string) => `${source} ${name}`;
  check(() => {
    if (!GUID_RE.test(t.subscriptionId))
      throw new InputError(
        at("subscriptionId"),
        t.subscriptionId,
        "must be a subscription id (a GUID)",
      );
  });
  check(() => validateResourceGroupName(at("resourceGroupName"), t.resourceGroupName));
  check(() => validateBatchAccountName(at("batchAccountName"), t.accountName));
  check(() => validateApplicationId(at("applicationId"), t.applicationId));
  check(() => validateApplicationVersion(at("applicationVersion"), t.version));
  check(() => {
    // Batch outputs its endpoint without a scheme.
    const endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(t.batchEndpoint)
      ? t.batchEndpoint
      : `https://${t.batchEndpoint}`;
    if (!isHttpsEndpoint(endpoint))
      throw new InputError(
        at("batchAccountEndpoint"),
        t.batchEndpoint,
        "must be the Batch account's endpoint, e.g. <account>.<region>.batch.azure.com, reached over https only (it receives a bearer token)",
      );
  });
  throwIfAny(problems);
  return t;
}

/** The credential for the Batch data plane (lib/azure/credentials `batchDataCredential`), or a refusal. */
export function batchCredential(env: NodeJS.ProcessEnv, creds: Credentials): TokenCredential {
  const credential = batchDataCredential(env, creds);
  if ("unavailable" in credential) {
    throw new InputError(
      "AZURE_BATCH_ACCESS_TOKEN",
      undefined,
      "must be set to a token for https://batch.core.windows.net when AZURE_ACCESS_TOKEN is used (a token has one audience); or unset both to use the Azure credential chain",
    );
  }
  return credential;
}
