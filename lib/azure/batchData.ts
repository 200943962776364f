/**
 * The few Batch data-plane calls `hpc-batch verify` makes, through the `@azure/batch` SDK
 * (api-version 2022-10-01.16.0) with an Entra token. Shared keys are not used: hpc-batch accounts
 * allow AAD authentication only.
 *
 * REST contract (Azure/azure-rest-api-specs specification/batch/data-plane/Microsoft.Batch/stable/
 * 2022-10-01.16.0/BatchService.json, as generated into node_modules/@azure/batch/dist-esm/src/
 * operations): GET pools/{poolId} 200, POST pools/{poolId}/resize 202, POST
 * pools/{poolId}/stopresize 202, GET pools/{poolId}/nodes 200, POST
 * pools/{poolId}/nodes/{nodeId}/reboot 202 (ComputeNode_Reboot, examples/NodeReboot.json), GET jobs
 * 200 and GET jobs/{jobId}/tasks 200 (Job_List, Task_List: `$filter`, `$select`, paged by
 * `odata.nextLink`; examples/JobList.json, TaskList.json), POST jobs 201, PATCH jobs/{jobId} 200,
 * POST jobs/{jobId}/tasks 201, GET jobs/{jobId}/tasks/{taskId} 200, GET
 * jobs/{jobId}/tasks/{taskId}/files/{filePath} 200 (octet-stream), DELETE jobs/{jobId} 202.
 */
import type * as batchSdk from "@azure/batch";
import type { TokenCredential } from "@azure/identity";
import type { ServiceClientCredentials, WebResourceLike } from "@azure/ms-rest-js";
import { describeNetworkError } from "../core/networkError";

/**
 * Loaded on first use, not with this module: a command that never reaches the SDK (help, an
 * unchanged publish, a plan) does not pay for loading it. A package name inside the function is
 * also what Pulumi's closure serializer keeps as `require(...)` in a dynamic provider.
 */
function sdk(): typeof batchSdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@azure/batch") as typeof batchSdk;
}

/** The Entra scope of the Batch data plane (every cloud's Batch resource id is this one). */
export const BATCH_SCOPE = "https://batch.core.windows.net/.default";

/**
 * Adapts an `@azure/identity` TokenCredential to the ms-rest-js credentials `@azure/batch` takes.
 * Passing the TokenCredential straight to the SDK would ask for an ARM token
 * (`https://management.azure.com/.default`, ms-rest-js AzureIdentityCredentialAdapter), which the
 * Batch service rejects.
 */
export class BatchTokenCredentials implements ServiceClientCredentials {
  constructor(
    private readonly credential: TokenCredential,
    private readonly scope: string = BATCH_SCOPE,
  ) {}

  async signRequest(webResource: WebResourceLike): Promise<WebResourceLike> {
    const token = await this.credential.getToken(this.scope);
    if (!token) throw new Error(`no Entra token for ${this.scope}`);
    webResource.headers.set("authorization", `Bearer ${token.token}`);
    return webResource;
  }
}

export interface PoolStatus {
  id: string;
  /** `active` or `deleting`. */
  state: string;
  /** `steady`, `resizing` or `stopping`. */
  allocationState: string;
  enableAutoScale: boolean;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  currentDedicatedNodes: number;
  currentLowPriorityNodes: number;
  /** `code: message` of each resize error the pool reports. */
  resizeErrors: string[];
}

export interface NodeStatus {
  id: string;
  /** idle, running, starting, waitingforstarttask, starttaskfailed, unusable, ... */
  state: string;
  schedulingState: string;
}

export interface TaskSpec {
  id: string;
  commandLine: string;
  applicationPackageReferences: { applicationId: string; version: string }[];
  maxWallClockTime: string;
}

export interface TaskStatus {
  /** active, preparing, running or completed. */
  state: string;
  exitCode?: number;
  /** `success` or `failure`, once completed. */
  result?: string;
  failureInfo?: { category: string; code?: string; message?: string; details: string[] };
  nodeId?: string;
}

/** An application package that work still running on the account references. */
export interface ActivePackageReference {
  job: string;
  /** The task; for a reference in the job's job manager task spec, that task's id. */
  task?: string;
  applicationId: string;
  /** Absent: the application's default version at the time the task runs. */
  version?: string;
}

/** The data-plane operations hpc-batch needs; `batchData()` implements them with the SDK. */
export interface BatchData {
  getPool(poolId: string): Promise<PoolStatus>;
  resizePool(poolId: string, target: { dedicated: number; lowPriority: number }): Promise<void>;
  stopResize(poolId: string): Promise<void>;
  listNodes(poolId: string): Promise<NodeStatus[]>;
  /**
   * Reboots a node once its running tasks complete (`nodeRebootOption: taskcompletion`: no new
   * tasks are scheduled meanwhile). Batch reboots only an idle or running node (ComputeNode_Reboot).
   * A reboot installs the pool's package references again, at the current default version.
   */
  rebootNode(poolId: string, nodeId: string): Promise<void>;
  /**
   * The application package references of work still running: of each `active` job, its job
   * manager task's and those of its tasks that are not completed. Retention keeps these versions.
   */
  listActivePackageReferences(): Promise<ActivePackageReference[]>;
  /** Adds a job on the pool that stays open (`onAllTasksComplete: noaction`). */
  addJob(jobId: string, poolId: string): Promise<void>;
  /** Switches the job to end once its tasks complete (`onAllTasksComplete: terminatejob`). */
  terminateJobWhenTasksComplete(jobId: string): Promise<void>;
  addTask(jobId: string, task: TaskSpec): Promise<void>;
  getTask(jobId: string, taskId: string): Promise<TaskStatus>;
  /** A file of the task, relative to its task directory (`stdout.txt`, `wd/out.mp4`). */
  readTaskFile(jobId: string, taskId: string, filePath: string): Promise<string>;
  deleteJob(jobId: string): Promise<void>;
}

/** `https://` plus the account endpoint (`acct.westeurope.batch.azure.com`) when it has none. */
export function batchUrl(endpoint: string): string {
  const url = /^https?:\/\//.test(endpoint) ? endpoint : `https://${endpoint}`;
  return url.replace(/\/+$/, "");
}

/**
 * A readable message for a failed Batch call: status, Batch error code and message; for a network
 * failure, the endpoint and the likely cause (lib/core/networkError).
 */
export function describeBatchError(err: unknown): string {
  const network = describeNetworkError(err);
  if (network !== undefined) return network;
  const e = err as {
    statusCode?: number;
    code?: string;
    body?: { code?: string; message?: { value?: string } | string };
    message?: string;
  };
  const code = e.body?.code ?? e.code;
  const msg = typeof e.body?.message === "object" ? e.body.message.value : e.body?.message;
  const parts = [e.statusCode ? `HTTP ${e.statusCode}` : undefined, code, msg ?? e.message];
  return parts.filter((p) => p !== undefined && p !== "").join(": ");
}

/** Every item of a paged Batch list (`odata.nextLink` until there is none). */
async function listAll<T>(
  first: Promise<T[] & { odatanextLink?: string }>,
  next: (link: string) => Promise<T[] & { odatanextLink?: string }>,
): Promise<T[]> {
  const out: T[] = [];
  let page = await first;
  for (;;) {
    out.push(...page);
    if (!page.odatanextLink) return out;
    page = await next(page.odatanextLink);
  }
}

async function readStream(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return "";
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString("utf8");
}

/** The Batch data plane of the account at `endpoint`, authenticated with `credential`. */
export function batchData(endpoint: string, credential: TokenCredential): BatchData {
  const client = new (sdk().BatchServiceClient)(
    new BatchTokenCredentials(credential),
    batchUrl(endpoint),
  );
  return {
    async getPool(poolId) {
      const p = await client.pool.get(poolId);
      return {
        id: p.id ?? poolId,
        state: p.state ?? "unknown",
        allocationState: p.allocationState ?? "unknown",
        enableAutoScale: p.enableAutoScale === true,
        targetDedicatedNodes: p.targetDedicatedNodes ?? 0,
        targetLowPriorityNodes: p.targetLowPriorityNodes ?? 0,
        currentDedicatedNodes: p.currentDedicatedNodes ?? 0,
        currentLowPriorityNodes: p.currentLowPriorityNodes ?? 0,
        resizeErrors: (p.resizeErrors ?? []).map((r) => `${r.code}: ${r.message}`),
      };
    },
    async resizePool(poolId, target) {
      await client.pool.resize(poolId, {
        targetDedicatedNodes: target.dedicated,
        targetLowPriorityNodes: target.lowPriority,
      });
    },
    async stopResize(poolId) {
      await client.pool.stopResize(poolId);
    },
    async listNodes(poolId) {
      const nodes = await listAll(client.computeNode.list(poolId), (link) =>
        client.computeNode.listNext(link),
      );
      return nodes.map((n) => ({
        id: n.id ?? "",
        state: n.state ?? "unknown",
        schedulingState: n.schedulingState ?? "unknown",
      }));
    },
    async rebootNode(poolId, nodeId) {
      await client.computeNode.reboot(poolId, nodeId, { nodeRebootOption: "taskcompletion" });
    },
    async listActivePackageReferences() {
      // Only what is needed: the server filters by state and returns the selected properties.
      // Every job not completed: a disabled or terminating job's tasks can still run or be
      // requeued (JobState in BatchService.json), so their references count too.
      const jobs = await listAll(
        client.job.list({
          jobListOptions: { filter: "state ne 'completed'", select: "id,jobManagerTask" },
        }),
        (link) => client.job.listNext(link),
      );
      const out: ActivePackageReference[] = [];
      const seen = new Set<string>();
      const add = (
        job: string,
        task: string | undefined,
        refs: batchSdk.ApplicationPackageReference[] = [],
      ) => {
        for (const r of refs) {
          const key = JSON.stringify([job, task, r.applicationId, r.version]);
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({
            job,
            ...(task !== undefined ? { task } : {}),
            applicationId: r.applicationId,
            ...(r.version !== undefined ? { version: r.version } : {}),
          });
        }
      };
      for (const job of jobs) {
        const jobId = job.id ?? "";
        // The job manager task is also one of the job's tasks once added; seen dedupes the two.
        add(jobId, job.jobManagerTask?.id, job.jobManagerTask?.applicationPackageReferences);
        const tasks = await listAll(
          client.task.list(jobId, {
            taskListOptions: {
              filter: "state ne 'completed'",
              select: "id,applicationPackageReferences",
            },
          }),
          (link) => client.task.listNext(link),
        );
        for (const t of tasks) add(jobId, t.id, t.applicationPackageReferences);
      }
      return out;
    },
    async addJob(jobId, poolId) {
      await client.job.add({ id: jobId, poolInfo: { poolId }, onAllTasksComplete: "noaction" });
    },
    async terminateJobWhenTasksComplete(jobId) {
      await client.job.patch(jobId, { onAllTasksComplete: "terminatejob" });
    },
    async addTask(jobId, task) {
      await client.task.add(jobId, {
        id: task.id,
        commandLine: task.commandLine,
        applicationPackageReferences: task.applicationPackageReferences,
        constraints: { maxWallClockTime: task.maxWallClockTime, maxTaskRetryCount: 0 },
      });
    },
    async getTask(jobId, taskId) {
      const t = await client.task.get(jobId, taskId);
      const x = t.executionInfo;
      const f = x?.failureInfo;
      return {
        state: t.state ?? "unknown",
        exitCode: x?.exitCode,
        result: x?.result,
        failureInfo: f
          ? {
              category: f.category,
              code: f.code,
              message: f.message,
              details: (f.details ?? []).map((d) => `${d.name}: ${d.value}`),
            }
          : undefined,
        nodeId: t.nodeInfo?.nodeId,
      };
    },
    async readTaskFile(jobId, taskId, filePath) {
      const r = await client.file.getFromTask(jobId, taskId, filePath);
      return readStream(r.readableStreamBody);
    },
    async deleteJob(jobId) {
      await client.job.deleteMethod(jobId);
    },
  };
}
