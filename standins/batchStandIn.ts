/**
 * A local HTTPS stand-in for the few Azure Batch data-plane endpoints `hpc-batch verify` uses
 * (api-version 2022-10-01.16.0) and the two ARM reads of the application (2025-06-01), built on
 * startStandIn. It keeps a pool, its nodes, jobs and tasks, answers with the documented status
 * codes and shapes (Azure/azure-rest-api-specs specification/batch/data-plane/Microsoft.Batch/
 * stable/2022-10-01.16.0: BatchService.json and examples/TaskGet.json, NodeList.json,
 * FileGetFromTask.json, NodeReboot.json, JobList.json, TaskList.json), and records a violation for
 * any request that breaks the contract: wrong api-version, content type, token, or a body that is
 * not the documented shape. List queries are answered as Batch does: `$filter` narrows, `$select`
 * returns only the named properties, pages end with `odata.nextLink`; a `$filter` or `$select`
 * the stand-in does not understand is a violation, never ignored.
 */
import { RecordedRequest, Route, StandIn, StandInReply, startStandIn } from "./httpsStandIn";

export const BATCH_API_VERSION = "2022-10-01.16.0";
export const ARM_API_VERSION = "2025-06-01";
/** What `@azure/batch` sends with a body (the `consumes` of BatchService.json plus charset). */
export const BATCH_CONTENT_TYPE = "application/json; odata=minimalmetadata; charset=utf-8";

/** One GET of the task returns the next step; the last one repeats. */
export interface TaskStep {
  state: "active" | "preparing" | "running" | "completed";
  exitCode?: number;
  failureInfo?: { category: "usererror" | "servererror"; code: string; message: string };
}

/** An application package reference as Batch returns it (ApplicationPackageReference). */
export interface StandInPackageRef {
  applicationId: string;
  version?: string;
}

/** A job already on the account (not one verify adds), with its tasks. */
export interface StandInJob {
  id: string;
  /** CloudJob.state (BatchService.json JobState). */
  state:
    "active" | "disabling" | "disabled" | "enabling" | "terminating" | "completed" | "deleting";
  jobManagerTask?: { id: string; applicationPackageReferences?: StandInPackageRef[] };
  tasks: {
    id: string;
    /** CloudTask.state (TaskState). */
    state: "active" | "preparing" | "running" | "completed";
    applicationPackageReferences?: StandInPackageRef[];
  }[];
}

export interface BatchScenario {
  subscriptionId: string;
  resourceGroupName: string;
  accountName: string;
  poolId: string;
  applicationId: string;
  version: string;
  /** ARM application version state. Defaults to Active. */
  versionState?: string;
  /** ARM application defaultVersion. Defaults to `version`. */
  defaultVersion?: string;
  pool: {
    enableAutoScale?: boolean;
    targetDedicatedNodes: number;
    /** Node states, one per current node. */
    nodes: string[];
    /** GETs that answer `resizing` after a resize before the pool is steady. Defaults to 1. */
    resizePolls?: number;
  };
  task: TaskStep[];
  /** Files of the task (relative to its directory) once it ran. */
  files?: Record<string, string>;
  /** Jobs already on the account, listed by GET /jobs besides the ones added through the API. */
  jobs?: StandInJob[];
  /**
   * Items per page of GET /jobs and GET /jobs/{id}/tasks. Defaults to 1000, Batch's largest page
   * (`maxresults`: "A maximum of 1000 ... can be returned", Job_List / Task_List).
   */
  pageSize?: number;
  /** The bearer tokens each API must receive. */
  batchToken: string;
  armToken: string;
}

export interface BatchStandIn extends StandIn {
  /** Jobs that exist now (created and not deleted). */
  jobs: Set<string>;
  /** The pool's node states now, by node id (`tvmps_<i>`); a reboot makes a node `rebooting`. */
  nodeStates(): Record<string, string>;
  /** `METHOD path` of every request, in order, with the query's api-version left out. */
  calls(): string[];
}

const json = (status: number, body?: unknown): StandInReply => ({ status, body });
const batchError = (status: number, code: string, message: string): StandInReply =>
  json(status, { code, message: { lang: "en-US", value: message } });

function need(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

function expectBearer(req: RecordedRequest, token: string): void {
  need(req.headers.authorization === `Bearer ${token}`, `authorization is not Bearer ${token}`);
}

function expectJsonBody(req: RecordedRequest, keys: string[]): Record<string, unknown> {
  need(
    req.headers["content-type"] === BATCH_CONTENT_TYPE,
    `content-type ${req.headers["content-type"]}`,
  );
  const body = req.body as Record<string, unknown>;
  need(typeof body === "object" && body !== null, "body is not a JSON object");
  const extra = Object.keys(body).filter((k) => !keys.includes(k));
  need(extra.length === 0, `undocumented body properties: ${extra.join(", ")}`);
  return body;
}

/** JobState and TaskState of BatchService.json: what `$filter=state eq '...'` may name. */
const JOB_STATES = [
  "active",
  "disabling",
  "disabled",
  "enabling",
  "terminating",
  "completed",
  "deleting",
];
const TASK_STATES = ["active", "preparing", "running", "completed"];
/** Top-level properties of CloudJob and CloudTask (BatchService.json): what `$select` may name. */
const JOB_PROPERTIES = [
  "id",
  "displayName",
  "usesTaskDependencies",
  "url",
  "eTag",
  "lastModified",
  "creationTime",
  "state",
  "stateTransitionTime",
  "previousState",
  "previousStateTransitionTime",
  "priority",
  "allowTaskPreemption",
  "maxParallelTasks",
  "constraints",
  "jobManagerTask",
  "jobPreparationTask",
  "jobReleaseTask",
  "commonEnvironmentSettings",
  "poolInfo",
  "onAllTasksComplete",
  "onTaskFailure",
  "networkConfiguration",
  "metadata",
  "executionInfo",
  "stats",
];
const TASK_PROPERTIES = [
  "id",
  "displayName",
  "url",
  "eTag",
  "lastModified",
  "creationTime",
  "exitConditions",
  "state",
  "stateTransitionTime",
  "previousState",
  "previousStateTransitionTime",
  "commandLine",
  "containerSettings",
  "resourceFiles",
  "outputFiles",
  "environmentSettings",
  "affinityInfo",
  "constraints",
  "requiredSlots",
  "userIdentity",
  "executionInfo",
  "nodeInfo",
  "multiInstanceSettings",
  "stats",
  "dependsOn",
  "applicationPackageReferences",
  "authenticationTokenSettings",
];

/**
 * One page of a Batch list: `$filter` (only `state eq|ne '<state>'`, the form hpc-batch sends;
 * anything else throws, so it is a violation rather than a silently unfiltered answer), `$select`
 * (only the named properties come back), and `odata.nextLink` to the next page while items remain.
 * An unknown state or property answers 400 InvalidQueryParameterValue, as Batch does (Microsoft
 * Learn, "Batch status and error codes": `state` `deleted` -> InvalidQueryParameterValue).
 */
function listPage(
  req: RecordedRequest,
  items: Record<string, unknown>[],
  states: string[],
  properties: string[],
  pageSize: number,
): StandInReply {
  const invalid = (name: string, value: string) =>
    json(400, {
      code: "InvalidQueryParameterValue",
      message: {
        lang: "en-US",
        value: "Value for one of the query parameters specified in the request URI is invalid.",
      },
      values: [
        { key: "QueryParameterName", value: name },
        { key: "QueryParameterValue", value },
      ],
    });
  const filter = req.query.get("$filter");
  let keep = (_item: Record<string, unknown>) => true;
  if (filter !== null) {
    const m = /^state (eq|ne) '([a-z]+)'$/.exec(filter);
    need(m !== null, `$filter the stand-in does not implement: ${filter}`);
    const [, op, state] = m as RegExpExecArray;
    if (!states.includes(state)) return invalid("$filter", filter);
    keep = (item) => (item.state === state) === (op === "eq");
  }
  const select = req.query.get("$select")?.split(",");
  const unknown = select?.find((p) => !properties.includes(p));
  if (unknown !== undefined) return invalid("$select", req.query.get("$select") ?? "");
  const shape = (item: Record<string, unknown>) =>
    select ? Object.fromEntries(select.filter((p) => p in item).map((p) => [p, item[p]])) : item;
  const all = items.filter(keep);
  const from = Number(req.query.get("$skiptoken") ?? "0");
  const page = all.slice(from, from + pageSize).map(shape);
  if (from + pageSize >= all.length) return json(200, { value: page });
  const next = new URLSearchParams(req.query);
  next.set("$skiptoken", String(from + pageSize));
  return json(200, {
    value: page,
    "odata.nextLink": `https://${req.headers.host}${req.path}?${next.toString()}`,
  });
}

export async function startBatchStandIn(s: BatchScenario): Promise<BatchStandIn> {
  const pool = {
    allocationState: "steady" as string,
    target: { dedicated: s.pool.targetDedicatedNodes, lowPriority: 0 },
    nodes: [...s.pool.nodes],
    resizing: 0,
  };
  const jobs = new Set<string>();
  /** The task added to each job verify created: its id and package references. */
  const added = new Map<string, { id: string; refs: StandInPackageRef[] }>();
  const existing = s.jobs ?? [];
  const pageSize = s.pageSize ?? 1000;
  let taskPolls = 0;
  let taskAdded = false;
  const nodeId = (i: number) => `tvmps_${i}`;

  const armApp = `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroupName}/providers/Microsoft.Batch/batchAccounts/${s.accountName}/applications/${s.applicationId}`;
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const batchRoute = (
    method: Route["method"],
    path: string,
    handle: (req: RecordedRequest, p: Record<string, string>) => StandInReply,
  ): Route => ({
    method,
    path: new RegExp(`^${path}$`),
    apiVersion: BATCH_API_VERSION,
    handle: (req, p) => {
      expectBearer(req, s.batchToken);
      return handle(req, p);
    },
  });

  const poolBody = () => ({
    id: s.poolId,
    url: `https://${s.accountName}.westeurope.batch.azure.com/pools/${s.poolId}`,
    state: "active",
    allocationState: pool.allocationState,
    vmSize: "standard_d2s_v5",
    enableAutoScale: s.pool.enableAutoScale === true,
    targetDedicatedNodes: pool.target.dedicated,
    targetLowPriorityNodes: pool.target.lowPriority,
    currentDedicatedNodes: pool.nodes.length,
    currentLowPriorityNodes: 0,
    taskSlotsPerNode: 1,
  });

  const routes: Route[] = [
    {
      method: "GET",
      path: new RegExp(`^${esc(armApp)}$`),
      apiVersion: ARM_API_VERSION,
      handle: (req) => {
        expectBearer(req, s.armToken);
        return json(200, {
          id: armApp,
          name: s.applicationId,
          type: "Microsoft.Batch/batchAccounts/applications",
          properties: {
            displayName: s.applicationId,
            allowUpdates: false,
            defaultVersion: s.defaultVersion ?? s.version,
          },
        });
      },
    },
    {
      method: "GET",
      path: new RegExp(`^${esc(`${armApp}/versions/${s.version}`)}$`),
      apiVersion: ARM_API_VERSION,
      handle: (req) => {
        expectBearer(req, s.armToken);
        return json(200, {
          id: `${armApp}/versions/${s.version}`,
          name: s.version,
          type: "Microsoft.Batch/batchAccounts/applications/versions",
          properties: {
            state: s.versionState ?? "Active",
            format: "zip",
            lastActivationTime: "2025-01-01T12:00:00Z",
          },
        });
      },
    },
    batchRoute("GET", `/pools/(?<pool>[^/]+)`, (_req, p) => {
      if (p.pool !== s.poolId)
        return batchError(404, "PoolNotFound", "The specified pool does not exist.");
      if (pool.allocationState === "resizing" && pool.resizing-- <= 0) {
        pool.allocationState = "steady";
        pool.nodes = Array.from({ length: pool.target.dedicated }, () => "idle");
      }
      return json(200, poolBody());
    }),
    batchRoute("POST", `/pools/(?<pool>[^/]+)/resize`, (req, p) => {
      need(p.pool === s.poolId, `resize of unknown pool ${p.pool}`);
      const body = expectJsonBody(req, ["targetDedicatedNodes", "targetLowPriorityNodes"]);
      if (s.pool.enableAutoScale) {
        return batchError(409, "AutoScalingEnabled", "The pool has auto scaling enabled.");
      }
      // "You can only resize a Pool when its allocation state is steady" (Pool_Resize).
      if (pool.allocationState !== "steady") {
        return batchError(409, "PoolNotSteady", "The specified pool is not in steady state.");
      }
      pool.target = {
        dedicated: body.targetDedicatedNodes as number,
        lowPriority: body.targetLowPriorityNodes as number,
      };
      pool.allocationState = "resizing";
      pool.resizing = s.pool.resizePolls ?? 1;
      return json(202);
    }),
    batchRoute("POST", `/pools/(?<pool>[^/]+)/stopresize`, () => {
      pool.allocationState = "steady";
      return json(202);
    }),
    batchRoute("GET", `/pools/(?<pool>[^/]+)/nodes`, () =>
      json(200, {
        value: pool.nodes.map((state, i) => ({
          id: nodeId(i),
          url: `https://${s.accountName}.westeurope.batch.azure.com/pools/${s.poolId}/nodes/${nodeId(i)}`,
          state,
          schedulingState: "enabled",
          isDedicated: true,
        })),
      }),
    ),
    // ComputeNode_Reboot: body NodeRebootParameter, answer 202 (examples/NodeReboot.json). "You
    // can restart a Compute Node only if it is in an idle or running state" (BatchService.json);
    // other states answer 409 with the BatchErrorCode for the state (Azure.Compute.Batch
    // BatchErrorCode: NodeBeingRebooted, NodeBeingReimaged, NodeBeingCreated, NodeBeingStarted,
    // NodeStateUnusable, else OperationInvalidForCurrentState).
    batchRoute("POST", `/pools/(?<pool>[^/]+)/nodes/(?<node>[^/]+)/reboot`, (req, p) => {
      const body = expectJsonBody(req, ["nodeRebootOption"]);
      need(
        body.nodeRebootOption === undefined ||
          ["requeue", "terminate", "taskcompletion", "retaineddata"].includes(
            body.nodeRebootOption as string,
          ),
        `nodeRebootOption ${String(body.nodeRebootOption)}`,
      );
      if (p.pool !== s.poolId)
        return batchError(404, "PoolNotFound", "The specified pool does not exist.");
      const i = pool.nodes.findIndex((_, j) => nodeId(j) === p.node);
      if (i < 0) return batchError(404, "NodeNotFound", "The specified node does not exist.");
      const state = pool.nodes[i];
      if (state !== "idle" && state !== "running") {
        const code =
          {
            rebooting: "NodeBeingRebooted",
            reimaging: "NodeBeingReimaged",
            creating: "NodeBeingCreated",
            starting: "NodeBeingStarted",
            unusable: "NodeStateUnusable",
          }[state] ?? "OperationInvalidForCurrentState";
        return batchError(409, code, `The node is ${state}.`);
      }
      pool.nodes[i] = "rebooting";
      return json(202);
    }),
    // Job_List (examples/JobList.json): the account's jobs, those verify added included.
    batchRoute("GET", `/jobs`, (req) =>
      listPage(
        req,
        [
          ...existing.map((j) => ({
            id: j.id,
            url: `https://${s.accountName}.westeurope.batch.azure.com/jobs/${j.id}`,
            state: j.state,
            poolInfo: { poolId: s.poolId },
            ...(j.jobManagerTask
              ? { jobManagerTask: { commandLine: "(as added)", ...j.jobManagerTask } }
              : {}),
            onAllTasksComplete: "noaction",
          })),
          ...[...jobs].map((id) => ({
            id,
            url: `https://${s.accountName}.westeurope.batch.azure.com/jobs/${id}`,
            state: "active",
            poolInfo: { poolId: s.poolId },
            onAllTasksComplete: "noaction",
          })),
        ],
        JOB_STATES,
        JOB_PROPERTIES,
        pageSize,
      ),
    ),
    // Task_List (examples/TaskList.json). The job manager task is one of the job's tasks.
    batchRoute("GET", `/jobs/(?<job>[^/]+)/tasks`, (req, p) => {
      const job = existing.find((j) => j.id === p.job);
      if (!job && !jobs.has(p.job))
        return batchError(404, "JobNotFound", "The specified job does not exist.");
      const task = (t: { id: string; state: string; applicationPackageReferences?: unknown }) => ({
        id: t.id,
        url: `https://${s.accountName}.westeurope.batch.azure.com/jobs/${p.job}/tasks/${t.id}`,
        state: t.state,
        commandLine: "(as added)",
        ...(t.applicationPackageReferences
          ? { applicationPackageReferences: t.applicationPackageReferences }
          : {}),
      });
      const mine = added.get(p.job);
      const state = s.task[Math.max(0, Math.min(taskPolls - 1, s.task.length - 1))]?.state;
      const tasks = job
        ? job.tasks
        : mine
          ? [{ id: mine.id, state, applicationPackageReferences: mine.refs }]
          : [];
      return listPage(req, tasks.map(task), TASK_STATES, TASK_PROPERTIES, pageSize);
    }),
    batchRoute("POST", `/jobs`, (req) => {
      const body = expectJsonBody(req, ["id", "poolInfo", "onAllTasksComplete"]);
      if (jobs.has(body.id as string))
        return batchError(409, "JobExists", "The specified job already exists.");
      jobs.add(body.id as string);
      return json(201);
    }),
    batchRoute("PATCH", `/jobs/(?<job>[^/]+)`, (req, p) => {
      need(jobs.has(p.job), `patch of unknown job ${p.job}`);
      expectJsonBody(req, ["onAllTasksComplete"]);
      return json(200);
    }),
    batchRoute("POST", `/jobs/(?<job>[^/]+)/tasks`, (req, p) => {
      need(jobs.has(p.job), `task added to unknown job ${p.job}`);
      const body = expectJsonBody(req, [
        "id",
        "commandLine",
        "applicationPackageReferences",
        "constraints",
      ]);
      added.set(p.job, {
        id: body.id as string,
        refs: (body.applicationPackageReferences ?? []) as StandInPackageRef[],
      });
      taskAdded = true;
      return json(201);
    }),
    batchRoute("GET", `/jobs/(?<job>[^/]+)/tasks/(?<task>[^/]+)`, (_req, p) => {
      if (!jobs.has(p.job) || !taskAdded) {
        return batchError(404, "TaskNotFound", "The specified task does not exist.");
      }
      const step = s.task[Math.min(taskPolls++, s.task.length - 1)];
      const completed = step.state === "completed";
      return json(200, {
        id: p.task,
        state: step.state,
        commandLine: "(as added)",
        executionInfo: {
          retryCount: 0,
          requeueCount: 0,
          ...(step.state !== "active" ? { startTime: "2025-01-01T12:00:05Z" } : {}),
          ...(completed ? { endTime: "2025-01-01T12:00:09Z" } : {}),
          ...(step.exitCode !== undefined ? { exitCode: step.exitCode } : {}),
          ...(step.failureInfo ? { failureInfo: step.failureInfo } : {}),
          ...(completed ? { result: step.failureInfo ? "failure" : "success" } : {}),
        },
        ...(step.state !== "active" ? { nodeInfo: { nodeId: "tvmps_0", poolId: s.poolId } } : {}),
      });
    }),
    batchRoute("GET", `/jobs/(?<job>[^/]+)/tasks/(?<task>[^/]+)/files/(?<file>.+)`, (_req, p) => {
      const text = s.files?.[decodeURIComponent(p.file)];
      if (!jobs.has(p.job) || text === undefined) {
        return batchError(404, "FileNotFound", "The specified file does not exist.");
      }
      return {
        status: 200,
        body: Buffer.from(text, "utf8"),
        headers: {
          "content-type": "application/octet-stream",
          "ocp-batch-file-isdirectory": "false",
        },
      };
    }),
    batchRoute("DELETE", `/jobs/(?<job>[^/]+)`, (_req, p) => {
      if (!jobs.delete(p.job))
        return batchError(404, "JobNotFound", "The specified job does not exist.");
      return json(202);
    }),
  ];
  const standIn = await startStandIn(routes);
  return {
    ...standIn,
    jobs,
    nodeStates: () => Object.fromEntries(pool.nodes.map((state, i) => [nodeId(i), state])),
    calls: () => standIn.requests.map((r) => `${r.method} ${r.path}`),
  };
}
