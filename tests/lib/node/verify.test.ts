import type { AccessToken, TokenCredential } from "@azure/identity";
import { BATCH_SCOPE, batchData } from "../../../lib/azure/batchData";
import { smokeTask } from "../../../lib/node/smokeTask";
import { batchApplications } from "../../../lib/azure/armBatchApps";
import {
  createVerifyPrinter,
  parseDuration,
  summarizeNodes,
  VerifyProgress,
  verifyDeployment,
  VerifyReport,
  VerifyTarget,
  targetFromOutputs,
  verifyJobId,
} from "../../../lib/node/verify";
import { startAzurite, type Azurite } from "../../../standins/azurite";
import { captureStream } from "../../support/progressStream";
import {
  BATCH_CONTENT_TYPE,
  BatchScenario,
  BatchStandIn,
  startBatchStandIn,
} from "../../../standins/batchStandIn";
import {
  ARM_APP,
  type DeployedStackStandIns,
  startDeployedStack,
} from "../../support/deployedStack";

const target: VerifyTarget = {
  subscriptionId: "11111111-2222-3333-4444-555555555555",
  resourceGroupName: "rg-hpc-dev",
  accountName: "hpcdevbatch",
  batchEndpoint: "", // set per stand-in
  poolId: "ffmpeg-pool",
  applicationId: "ffmpeg",
  version: "1.2.0",
};
const JOB = "hpc-batch-verify-test";
const STDOUT =
  "ffmpeg version N-47683-g0e8eb07980-static\nsmoke: ok 26946 bytes in smoke-output.mp4\n";

function scenario(over: Partial<BatchScenario> = {}): BatchScenario {
  return {
    ...target,
    pool: { targetDedicatedNodes: 1, nodes: ["idle"] },
    task: [{ state: "active" }, { state: "running" }, { state: "completed", exitCode: 0 }],
    files: { "stdout.txt": STDOUT, "stderr.txt": "" },
    batchToken: "batch-token",
    armToken: "arm-token",
    ...over,
  };
}

/** Answers the Batch scope with one token and anything else (ARM) with another; records scopes. */
function fakeCredential(scopes: string[]): TokenCredential {
  return {
    async getToken(scope: string | string[]): Promise<AccessToken> {
      const s = Array.isArray(scope) ? scope.join(" ") : scope;
      scopes.push(s);
      return {
        token: s === BATCH_SCOPE ? "batch-token" : "arm-token",
        expiresOnTimestamp: Date.now() + 3_600_000,
      };
    },
  };
}

interface Run {
  report: VerifyReport;
  standIn: BatchStandIn;
  scopes: string[];
  lines: string[];
}

async function run(over: Partial<BatchScenario>, nodes?: number, timeoutMs = 60_000): Promise<Run> {
  const standIn = await startBatchStandIn(scenario(over));
  const scopes: string[] = [];
  const lines: string[] = [];
  const progress: VerifyProgress = {
    step: (ok, m) => lines.push(`${ok ? "ok" : "FAIL"} ${m}`),
    waiting: (what, state) => lines.push(`wait ${what}: ${state}`),
  };
  // Virtual clock: only sleeps advance time, so deadlines never depend on machine load.
  let clock = 0;
  try {
    const credential = fakeCredential(scopes);
    const report = await verifyDeployment({
      target: { ...target, batchEndpoint: standIn.url },
      batch: batchData(standIn.url, credential),
      apps: batchApplications({
        endpoint: standIn.url,
        credential,
        subscriptionId: target.subscriptionId,
        resourceGroup: target.resourceGroupName,
        account: target.accountName,
      }),
      nodes,
      timeoutMs,
      pollMs: 1,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      jobId: JOB,
      progress,
    });
    return { report, standIn, scopes, lines };
  } finally {
    await standIn.close();
  }
}

test("success with --nodes: exact request sequence, bodies, tokens; job deleted, pool scaled back", async () => {
  const { report, standIn, scopes, lines } = await run(
    { pool: { targetDedicatedNodes: 0, nodes: [], resizePolls: 1 } },
    1,
  );
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls()).toEqual([
    `GET ${ARM_APP}/versions/1.2.0`,
    `GET ${ARM_APP}`,
    "GET /pools/ffmpeg-pool",
    "POST /pools/ffmpeg-pool/resize",
    "GET /pools/ffmpeg-pool",
    "GET /pools/ffmpeg-pool",
    "GET /pools/ffmpeg-pool/nodes",
    "POST /jobs",
    `POST /jobs/${JOB}/tasks`,
    `PATCH /jobs/${JOB}`,
    `GET /jobs/${JOB}/tasks/smoke`,
    `GET /jobs/${JOB}/tasks/smoke`,
    `GET /jobs/${JOB}/tasks/smoke`,
    `GET /jobs/${JOB}/tasks/smoke/files/stdout.txt`,
    `DELETE /jobs/${JOB}`,
    "GET /pools/ffmpeg-pool",
    "POST /pools/ffmpeg-pool/resize",
  ]);
  const bodies = standIn.requests
    .filter((r) => r.method !== "GET" && r.method !== "DELETE")
    .map((r) => [r.method, r.path, r.headers["content-type"], r.body]);
  const task = smokeTask({ applicationId: "ffmpeg", version: "1.2.0" });
  expect(bodies).toEqual([
    [
      "POST",
      "/pools/ffmpeg-pool/resize",
      BATCH_CONTENT_TYPE,
      { targetDedicatedNodes: 1, targetLowPriorityNodes: 0 },
    ],
    [
      "POST",
      "/jobs",
      BATCH_CONTENT_TYPE,
      { id: JOB, poolInfo: { poolId: "ffmpeg-pool" }, onAllTasksComplete: "noaction" },
    ],
    [
      "POST",
      `/jobs/${JOB}/tasks`,
      BATCH_CONTENT_TYPE,
      {
        id: "smoke",
        commandLine: task.commandLine,
        applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.2.0" }],
        constraints: { maxWallClockTime: "PT10M", maxTaskRetryCount: 0 },
      },
    ],
    ["PATCH", `/jobs/${JOB}`, BATCH_CONTENT_TYPE, { onAllTasksComplete: "terminatejob" }],
    [
      "POST",
      "/pools/ffmpeg-pool/resize",
      BATCH_CONTENT_TYPE,
      { targetDedicatedNodes: 0, targetLowPriorityNodes: 0 },
    ],
  ]);
  // Batch calls asked for the Batch scope, ARM calls for the ARM endpoint's.
  expect([...new Set(scopes)].sort()).toEqual([`${standIn.url}/.default`, BATCH_SCOPE].sort());
  expect(standIn.jobs.size).toBe(0);
  expect(report.ok).toBe(true);
  expect(report.stdout).toBe(STDOUT);
  expect(report.stderr).toBeUndefined();
  expect(report.resize).toEqual({ from: { dedicated: 0, lowPriority: 0 }, to: 1, restored: true });
  expect(report.checks).toEqual([
    { name: "package active", ok: true, detail: "ffmpeg 1.2.0 is Active" },
    { name: "default version", ok: true, detail: "ffmpeg defaults to 1.2.0" },
    {
      name: "pool steady",
      ok: true,
      detail: "ffmpeg-pool is steady with 1 dedicated and 0 spot node(s)",
    },
    { name: "usable node", ok: true, detail: "1 idle" },
    { name: "smoke task", ok: true, detail: "exit code 0 on tvmps_0" },
    { name: "job deleted", ok: true, detail: JOB },
    { name: "pool scaled back", ok: true, detail: "ffmpeg-pool to 0 dedicated node(s)" },
  ]);
  expect(lines.filter((l) => l.startsWith("wait task"))).toEqual([
    "wait task smoke: active",
    "wait task smoke: running",
    "wait task smoke: completed",
  ]);
});

test("a scheduling (pre-processing) error fails verify, reads no files, and still deletes the job", async () => {
  const { report, standIn } = await run({
    task: [
      { state: "preparing" },
      {
        state: "completed",
        failureInfo: {
          category: "usererror",
          code: "ApplicationPackageNotFound",
          message: "Application package ffmpeg version 1.2.0 was not found",
        },
      },
    ],
  });
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls().filter((c) => c.includes("/files/"))).toEqual([]);
  expect(standIn.calls().slice(-1)).toEqual([`DELETE /jobs/${JOB}`]);
  expect(standIn.jobs.size).toBe(0);
  expect(report.ok).toBe(false);
  expect(report.stdout).toBeUndefined();
  expect(report.checks.slice(-2)).toEqual([
    {
      name: "smoke task",
      ok: false,
      detail:
        "did not run: usererror ApplicationPackageNotFound: Application package ffmpeg version 1.2.0 was not found",
    },
    { name: "job deleted", ok: true, detail: JOB },
  ]);
});

test("a nonzero exit code fails verify with the task's stdout and stderr; job deleted", async () => {
  const { report, standIn } = await run({
    task: [
      { state: "running" },
      {
        state: "completed",
        exitCode: 126,
        failureInfo: {
          category: "usererror",
          code: "FailureExitCode",
          message: "The task exited with an exit code representing a failure",
        },
      },
    ],
    files: { "stdout.txt": "", "stderr.txt": "/bin/sh: 1: bin/ffmpeg: Permission denied\n" },
  });
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls().slice(-3)).toEqual([
    `GET /jobs/${JOB}/tasks/smoke/files/stdout.txt`,
    `GET /jobs/${JOB}/tasks/smoke/files/stderr.txt`,
    `DELETE /jobs/${JOB}`,
  ]);
  expect(report.ok).toBe(false);
  expect(report.stdout).toBe("");
  expect(report.stderr).toBe("/bin/sh: 1: bin/ffmpeg: Permission denied\n");
  expect(report.checks.find((c) => c.name === "smoke task")).toEqual({
    name: "smoke task",
    ok: false,
    detail:
      "exit code 126 (usererror FailureExitCode: The task exited with an exit code representing a failure) on tvmps_0",
  });
  expect(standIn.jobs.size).toBe(0);
});

test("a task that never completes times out; the job is deleted and the pool scaled back", async () => {
  const { report, standIn } = await run(
    { pool: { targetDedicatedNodes: 0, nodes: [] }, task: [{ state: "running" }] },
    2,
    200,
  );
  expect(standIn.violations).toEqual([]);
  expect(report.ok).toBe(false);
  expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
    ["package active", true],
    ["default version", true],
    ["pool steady", true],
    ["usable node", true],
    ["timeout", false],
    ["job deleted", true],
    ["pool scaled back", true],
  ]);
  expect(report.checks[4].detail).toBe("gave up after 0.2 s waiting for task smoke: still running");
  expect(standIn.calls().slice(-3)).toEqual([
    `DELETE /jobs/${JOB}`,
    "GET /pools/ffmpeg-pool",
    "POST /pools/ffmpeg-pool/resize",
  ]);
  expect(standIn.requests.at(-1)?.body).toEqual({
    targetDedicatedNodes: 0,
    targetLowPriorityNodes: 0,
  });
  expect(standIn.jobs.size).toBe(0);
});

test("an inactive package version stops verify before any Batch call", async () => {
  const { report, standIn } = await run({ versionState: "Pending", defaultVersion: "1.1.0" });
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls()).toEqual([`GET ${ARM_APP}/versions/1.2.0`, `GET ${ARM_APP}`]);
  expect(report.ok).toBe(false);
  expect(report.checks).toEqual([
    { name: "package active", ok: false, detail: "ffmpeg 1.2.0 is Pending" },
    { name: "default version", ok: false, detail: "ffmpeg defaults to 1.1.0, not 1.2.0" },
  ]);
});

test("--nodes on an autoscale pool fails without resizing", async () => {
  const { report, standIn } = await run(
    { pool: { enableAutoScale: true, targetDedicatedNodes: 1, nodes: ["idle"] } },
    3,
  );
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls().filter((c) => c.includes("resize"))).toEqual([]);
  expect(report.checks.at(-1)).toEqual({
    name: "pool resized",
    ok: false,
    detail: "--nodes needs a fixed-scale pool; ffmpeg-pool autoscales",
  });
});

test("a pool without nodes fails with a hint, submits no job", async () => {
  const { report, standIn } = await run({ pool: { targetDedicatedNodes: 0, nodes: [] } });
  expect(standIn.violations).toEqual([]);
  expect(standIn.calls().some((c) => c.includes("/jobs"))).toBe(false);
  expect(report.checks.at(-1)).toEqual({
    name: "usable node",
    ok: false,
    detail: "ffmpeg-pool has no nodes; rerun with --nodes 1",
  });
});

test("an autoscale pool at 0 nodes gets the smoke task first; its pending task scales the pool", async () => {
  const { report, standIn } = await run({
    pool: { enableAutoScale: true, targetDedicatedNodes: 0, nodes: [] },
  });
  expect(standIn.violations).toEqual([]);
  const batchCalls = standIn.calls().filter((c) => !c.includes("/providers/Microsoft.Batch"));
  expect(batchCalls).toEqual([
    "GET /pools/ffmpeg-pool",
    "POST /jobs",
    "POST /jobs/hpc-batch-verify-test/tasks",
    "PATCH /jobs/hpc-batch-verify-test",
    "GET /jobs/hpc-batch-verify-test/tasks/smoke",
    "GET /jobs/hpc-batch-verify-test/tasks/smoke",
    "GET /jobs/hpc-batch-verify-test/tasks/smoke",
    "GET /jobs/hpc-batch-verify-test/tasks/smoke/files/stdout.txt",
    "DELETE /jobs/hpc-batch-verify-test",
  ]);
  expect(report.ok).toBe(true);
  expect(report.checks.find((c) => c.name === "usable node")).toEqual({
    name: "usable node",
    ok: true,
    detail: "ffmpeg-pool autoscales from 0 nodes: the smoke task's pending task will scale it up",
  });
});

test("unusable nodes fail the node check", async () => {
  const { report } = await run({
    pool: { targetDedicatedNodes: 2, nodes: ["unusable", "starttaskfailed"] },
  });
  expect(report.checks.at(-1)).toEqual({
    name: "usable node",
    ok: false,
    detail: "1 unusable, 1 starttaskfailed",
  });
});

test.each([
  ["250ms", 250],
  ["90", 90_000],
  ["90s", 90_000],
  ["15m", 900_000],
  ["1h", 3_600_000],
])("parseDuration(%s) = %d ms", (text, ms) => {
  expect(parseDuration("--timeout", text)).toBe(ms);
});

test.each(["0", "1.5m", "soon", "-5s"])("parseDuration rejects %s", (text) => {
  expect(() => parseDuration("--timeout", text)).toThrow(
    `--timeout "${text}" is invalid: must be a positive whole number of seconds, or like 500ms, 90s, 15m, 1h`,
  );
});

test("job ids and node summaries", () => {
  expect(verifyJobId(new Date("2025-03-04T05:06:07.890Z"))).toBe(
    "hpc-batch-verify-20250304t050607z",
  );
  expect(summarizeNodes([])).toBe("no nodes");
  expect(
    summarizeNodes([
      { id: "a", state: "idle", schedulingState: "enabled" },
      { id: "b", state: "idle", schedulingState: "disabled" },
      { id: "c", state: "idle", schedulingState: "enabled" },
    ]),
  ).toBe("2 idle, 1 idle (scheduling disabled)");
});

test("the target comes from the stack outputs; missing outputs are named", () => {
  const outputs = {
    subscriptionId: target.subscriptionId,
    resourceGroupName: "rg-hpc-dev",
    batchAccountName: "hpcdevbatch",
    batchAccountEndpoint: "hpcdevbatch.westeurope.batch.azure.com",
    poolName: "ffmpeg-pool",
    applicationId: "ffmpeg",
    applicationVersion: "1.2.0",
    storageAccountName: "ignored",
  };
  expect(targetFromOutputs(outputs, "stack dev")).toEqual({
    ...target,
    batchEndpoint: "hpcdevbatch.westeurope.batch.azure.com",
  });
  expect(() =>
    targetFromOutputs({ subscriptionId: "x", poolName: "p", applicationId: "" }, "outputs.json"),
  ).toThrow(
    'outputs.json ["subscriptionId","poolName","applicationId"] is invalid: must have the stack outputs resourceGroupName, batchAccountName, batchAccountEndpoint, applicationId or batchApplicationId, applicationVersion or batchApplicationVersion',
  );
});

describe("--promote: the smoke task is the new version's canary", () => {
  let azurite: Azurite;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop(); // undefined when startup failed: its own error is the one reported
  });

  interface PromoteRun {
    report: VerifyReport;
    stack: DeployedStackStandIns;
    /** Every ARM and Batch call verify made, in order, as `apps.<method>` / `batch.<method>`. */
    order: string[];
  }

  /** Records the method calls of `target` into `log` as `<label>.<method>`. */
  function recorded<T extends object>(target: T, label: string, log: string[]): T {
    return new Proxy(target, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          log.push(`${label}.${String(prop)}`);
          return (value as (...a: unknown[]) => unknown).apply(obj, args);
        };
      },
    });
  }

  async function promoteRun(
    over: Partial<BatchScenario>,
    versions: { name: string; state?: "Active" | "Pending" }[],
    defaultVersion?: string,
  ): Promise<PromoteRun> {
    const stack = await startDeployedStack({
      azurite,
      versions,
      defaultVersion,
      batch: { version: "1.2.0", ...over },
    });
    const order: string[] = [];
    try {
      const credential = fakeCredential([]);
      const report = await verifyDeployment({
        target: { ...target, batchEndpoint: stack.batch.url },
        batch: recorded(batchData(stack.batch.url, credential), "batch", order),
        apps: recorded(
          batchApplications({
            endpoint: stack.arm.url,
            credential,
            subscriptionId: target.subscriptionId,
            resourceGroup: target.resourceGroupName,
            account: target.accountName,
          }),
          "apps",
          order,
        ),
        promote: true,
        timeoutMs: 60_000,
        pollMs: 1,
        jobId: JOB,
      });
      return { report, stack, order };
    } finally {
      await stack.close();
    }
  }

  const patches = (stack: DeployedStackStandIns) =>
    stack.arm.requests.filter((r) => r.method === "PATCH").map((r) => [r.path, r.body]);

  test("a passing canary makes the version the default: one PATCH, after the task and cleanup", async () => {
    const { report, stack, order } = await promoteRun(
      { pool: { targetDedicatedNodes: 2, nodes: ["idle", "running"] } },
      [{ name: "1.1.0" }, { name: "1.2.0" }],
      "1.1.0",
    );
    expect(stack.arm.violations).toEqual([]);
    expect(stack.batch.violations).toEqual([]);
    expect(order).toEqual([
      "apps.getVersion",
      "apps.getApplication",
      "batch.getPool",
      "batch.listNodes",
      "batch.addJob",
      "batch.addTask",
      "batch.terminateJobWhenTasksComplete",
      "batch.getTask",
      "batch.getTask",
      "batch.readTaskFile",
      "batch.deleteJob",
      "apps.updateApplication",
      "batch.listNodes",
    ]);
    expect(stack.armCalls()).toEqual([
      `GET ${ARM_APP}/versions/1.2.0`,
      `GET ${ARM_APP}`,
      `PATCH ${ARM_APP}`,
    ]);
    expect(patches(stack)).toEqual([[ARM_APP, { properties: { defaultVersion: "1.2.0" } }]]);
    expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.2.0");
    expect(stack.batch.calls()).toEqual([
      "GET /pools/ffmpeg-pool",
      "GET /pools/ffmpeg-pool/nodes",
      "POST /jobs",
      `POST /jobs/${JOB}/tasks`,
      `PATCH /jobs/${JOB}`,
      `GET /jobs/${JOB}/tasks/smoke`,
      `GET /jobs/${JOB}/tasks/smoke`,
      `GET /jobs/${JOB}/tasks/smoke/files/stdout.txt`,
      `DELETE /jobs/${JOB}`,
      "GET /pools/ffmpeg-pool/nodes",
    ]);
    // The canary references the new version at task level and reads its versioned variable.
    const added = stack.batch.requests.find((r) => r.path === `/jobs/${JOB}/tasks`)?.body as {
      commandLine: string;
      applicationPackageReferences: unknown;
    };
    expect(added.applicationPackageReferences).toEqual([
      { applicationId: "ffmpeg", version: "1.2.0" },
    ]);
    expect(added.commandLine).toBe(
      smokeTask({ applicationId: "ffmpeg", version: "1.2.0" }).commandLine,
    );
    expect(added.commandLine).toContain("${AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0:-");
    expect(report.ok).toBe(true);
    expect(report.checks).toEqual([
      { name: "package active", ok: true, detail: "ffmpeg 1.2.0 is Active" },
      {
        name: "default version",
        ok: true,
        detail: "ffmpeg defaults to 1.1.0; 1.2.0 runs as a canary first",
      },
      {
        name: "pool steady",
        ok: true,
        detail: "ffmpeg-pool is steady with 2 dedicated and 0 spot node(s)",
      },
      { name: "usable node", ok: true, detail: "1 idle, 1 running" },
      { name: "smoke task", ok: true, detail: "exit code 0 on tvmps_0" },
      { name: "job deleted", ok: true, detail: JOB },
      { name: "promoted", ok: true, detail: "ffmpeg defaults to 1.2.0 (was 1.1.0)" },
    ]);
    expect(report.rollout).toEqual({
      applicationId: "ffmpeg",
      poolId: "ffmpeg-pool",
      version: "1.2.0",
      previous: "1.1.0",
      nodes: [
        { id: "tvmps_0", state: "idle", schedulingState: "enabled" },
        { id: "tvmps_1", state: "running", schedulingState: "enabled" },
      ],
    });
  });

  test("a failed canary leaves the default untouched: no PATCH, the failure and the default named", async () => {
    const { report, stack, order } = await promoteRun(
      {
        task: [
          {
            state: "completed",
            exitCode: 3,
            failureInfo: {
              category: "usererror",
              code: "FailureExitCode",
              message: "The task exited with an exit code representing a failure",
            },
          },
        ],
        files: {
          "stdout.txt": "",
          "stderr.txt": "smoke: application package ffmpeg 1.2.0 is not on this node\n",
        },
      },
      [{ name: "1.1.0" }, { name: "1.2.0" }],
      "1.1.0",
    );
    expect(stack.arm.violations).toEqual([]);
    expect(stack.batch.violations).toEqual([]);
    expect(order.filter((o) => o.startsWith("apps."))).toEqual([
      "apps.getVersion",
      "apps.getApplication",
    ]);
    expect(patches(stack)).toEqual([]);
    expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.1.0");
    expect(stack.batch.calls().slice(-1)).toEqual([`DELETE /jobs/${JOB}`]);
    expect(report.ok).toBe(false);
    expect(report.rollout).toBeUndefined();
    expect(report.checks.slice(-3)).toEqual([
      {
        name: "smoke task",
        ok: false,
        detail:
          "exit code 3 (usererror FailureExitCode: The task exited with an exit code representing a failure) on tvmps_0",
      },
      { name: "job deleted", ok: true, detail: JOB },
      {
        name: "promoted",
        ok: false,
        detail:
          "ffmpeg 1.2.0 is not the default: its canary failed (exit code 3 (usererror FailureExitCode: The task exited with an exit code representing a failure) on tvmps_0); the default is still 1.1.0",
      },
    ]);
  });

  test("a canary that never ran (scheduling error) is named too; the default stays", async () => {
    const { report, stack } = await promoteRun(
      {
        task: [
          {
            state: "completed",
            failureInfo: {
              category: "usererror",
              code: "ApplicationPackageNotFound",
              message: "Application package ffmpeg version 1.2.0 was not found",
            },
          },
        ],
      },
      [{ name: "1.1.0" }, { name: "1.2.0" }],
      "1.1.0",
    );
    expect(stack.arm.violations).toEqual([]);
    expect(patches(stack)).toEqual([]);
    expect(report.checks.at(-1)).toEqual({
      name: "promoted",
      ok: false,
      detail:
        "ffmpeg 1.2.0 is not the default: its canary failed (did not run: usererror ApplicationPackageNotFound: Application package ffmpeg version 1.2.0 was not found); the default is still 1.1.0",
    });
  });

  test("a Pending version is not promoted and gets no canary: no Batch call, no PATCH", async () => {
    const { report, stack } = await promoteRun(
      {},
      [{ name: "1.1.0" }, { name: "1.2.0", state: "Pending" }],
      "1.1.0",
    );
    expect(stack.arm.violations).toEqual([]);
    expect(stack.batch.calls()).toEqual([]);
    expect(stack.armCalls()).toEqual([`GET ${ARM_APP}/versions/1.2.0`, `GET ${ARM_APP}`]);
    expect(report.checks).toEqual([
      { name: "package active", ok: false, detail: "ffmpeg 1.2.0 is Pending" },
      {
        name: "default version",
        ok: true,
        detail: "ffmpeg defaults to 1.1.0; 1.2.0 runs as a canary first",
      },
      {
        name: "promoted",
        ok: false,
        detail:
          "ffmpeg 1.2.0 is not the default: verify failed before its canary passed (package active); the default is still 1.1.0",
      },
    ]);
  });

  test("a version that already is the default is verified as without --promote: no PATCH", async () => {
    const { report, stack } = await promoteRun({}, [{ name: "1.2.0" }], "1.2.0");
    expect(stack.arm.violations).toEqual([]);
    expect(stack.armCalls()).toEqual([`GET ${ARM_APP}/versions/1.2.0`, `GET ${ARM_APP}`]);
    expect(report.ok).toBe(true);
    expect(report.rollout).toBeUndefined();
    expect(report.checks.map((c) => c.name)).toEqual([
      "package active",
      "default version",
      "pool steady",
      "usable node",
      "smoke task",
      "job deleted",
    ]);
  });
});

describe("createVerifyPrinter", () => {
  test("not a terminal (CI): a line per step, a line per new waiting state, no bar", () => {
    const stream = captureStream(false);
    const printer = createVerifyPrinter(stream);
    printer.step(true, "package active: ffmpeg 1.2.0 is Active");
    printer.waiting("a usable node", "1 starting", 4_000);
    printer.waiting("a usable node", "1 starting", 9_000);
    printer.waiting("a usable node", "1 idle", 185_000);
    printer.step(true, "usable node: 1 idle");
    printer.waiting("task smoke", "running", 190_000);
    printer.waiting("task smoke", "completed", 3_720_000);
    printer.step(false, "smoke task: exit code 1 on tvmps_0");
    printer.stop();
    expect(stream.text()).toBe(
      [
        "ok   package active: ffmpeg 1.2.0 is Active",
        "     waiting for a usable node: 1 starting (4s)",
        "     waiting for a usable node: 1 idle (3m05s)",
        "ok   usable node: 1 idle",
        "     waiting for task smoke: running (3m10s)",
        "     waiting for task smoke: completed (1h02m)",
        "FAIL smoke task: exit code 1 on tvmps_0",
        "",
      ].join("\n"),
    );
  });

  test("a terminal: the task's wait is a bar, cleared by the next step line", () => {
    const stream = captureStream(true);
    const printer = createVerifyPrinter(stream);
    printer.waiting("a usable node", "1 idle", 4_000);
    printer.waiting("task smoke", "active", 5_000);
    // cli-progress draws the first frame at once: 0 of the task's 3 states past "active".
    expect(stream.text()).toContain("task smoke [");
    expect(stream.text()).toContain("] active 5s");
    printer.waiting("task smoke", "completed", 9_000);
    printer.step(true, "smoke task: exit code 0 on tvmps_0");
    printer.stop();
    const text = stream.text();
    expect(text.startsWith("     waiting for a usable node: 1 idle (4s)\n")).toBe(true);
    expect(text.endsWith("ok   smoke task: exit code 0 on tvmps_0\n")).toBe(true);
    expect(text).not.toContain("waiting for task smoke");
  });
});
