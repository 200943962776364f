import { staticTokenCredential } from "../../../lib/azure/credentials";
import { batchData } from "../../../lib/azure/batchData";
import {
  type BatchScenario,
  startBatchStandIn,
  BATCH_CONTENT_TYPE,
} from "../../../standins/batchStandIn";
import { BATCH_TOKEN, STACK } from "../../support/deployedStack";

const batchCred = staticTokenCredential(BATCH_TOKEN);

function scenario(over: Partial<BatchScenario> = {}): BatchScenario {
  return {
    ...STACK,
    version: "1.2.0",
    pool: { targetDedicatedNodes: 1, nodes: ["idle"] },
    task: [{ state: "completed", exitCode: 0 }],
    batchToken: BATCH_TOKEN,
    armToken: "unused",
    ...over,
  };
}

/** Each request as `METHOD path?query` with the query's api-version and timeout left out. */
function requestLines(requests: { method: string; path: string; query: URLSearchParams }[]) {
  return requests.map((r) => {
    const q = new URLSearchParams(r.query);
    q.delete("api-version");
    q.delete("timeout");
    const text = [...q].map(([k, v]) => `${k}=${v}`).join("&");
    return `${r.method} ${r.path}${text ? `?${text}` : ""}`;
  });
}

test("listActivePackageReferences: active jobs only, unfinished tasks only, every page followed", async () => {
  const standIn = await startBatchStandIn(
    scenario({
      pageSize: 1,
      jobs: [
        {
          id: "render-a",
          state: "active",
          jobManagerTask: {
            id: "manager",
            applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.1.0" }],
          },
          tasks: [
            // The job manager task, running: its reference is reported once.
            {
              id: "manager",
              state: "running",
              applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.1.0" }],
            },
            {
              id: "t1",
              state: "completed",
              applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.0.0" }],
            },
            {
              id: "t2",
              state: "active",
              applicationPackageReferences: [{ applicationId: "ffmpeg" }],
            },
          ],
        },
        {
          id: "old",
          state: "completed",
          tasks: [
            {
              id: "t1",
              state: "running",
              applicationPackageReferences: [{ applicationId: "ffmpeg", version: "0.9.0" }],
            },
          ],
        },
        {
          id: "render-b",
          state: "active",
          tasks: [
            {
              id: "t1",
              state: "preparing",
              applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.2.0" }],
            },
            { id: "t2", state: "running" },
          ],
        },
      ],
    }),
  );
  try {
    const refs = await batchData(standIn.url, batchCred).listActivePackageReferences();
    expect(standIn.violations).toEqual([]);
    expect(refs).toEqual([
      { job: "render-a", task: "manager", applicationId: "ffmpeg", version: "1.1.0" },
      { job: "render-a", task: "t2", applicationId: "ffmpeg" },
      { job: "render-b", task: "t1", applicationId: "ffmpeg", version: "1.2.0" },
    ]);
    const jobs = "$filter=state ne 'completed'&$select=id,jobManagerTask";
    const tasks = "$filter=state ne 'completed'&$select=id,applicationPackageReferences";
    // One item per page (pageSize 1): each odata.nextLink is followed until there is none.
    expect(requestLines(standIn.requests)).toEqual([
      `GET /jobs?${jobs}`,
      `GET /jobs?${jobs}&$skiptoken=1`,
      `GET /jobs/render-a/tasks?${tasks}`,
      `GET /jobs/render-a/tasks?${tasks}&$skiptoken=1`,
      `GET /jobs/render-b/tasks?${tasks}`,
      `GET /jobs/render-b/tasks?${tasks}&$skiptoken=1`,
    ]);
    expect(standIn.requests.map((r) => r.headers.authorization)).toEqual(
      Array(6).fill(`Bearer ${BATCH_TOKEN}`),
    );
  } finally {
    await standIn.close();
  }
});

test("listActivePackageReferences with no job: one request, nothing referenced", async () => {
  const standIn = await startBatchStandIn(scenario());
  try {
    expect(await batchData(standIn.url, batchCred).listActivePackageReferences()).toEqual([]);
    expect(standIn.violations).toEqual([]);
    expect(standIn.calls()).toEqual(["GET /jobs"]);
  } finally {
    await standIn.close();
  }
});

test("rebootNode: POST .../reboot with taskcompletion; Batch refuses a node that is not idle or running", async () => {
  const standIn = await startBatchStandIn(
    scenario({ pool: { targetDedicatedNodes: 3, nodes: ["idle", "starting", "running"] } }),
  );
  try {
    const batch = batchData(standIn.url, batchCred);
    await batch.rebootNode("ffmpeg-pool", "tvmps_0");
    await batch.rebootNode("ffmpeg-pool", "tvmps_2");
    await expect(batch.rebootNode("ffmpeg-pool", "tvmps_1")).rejects.toMatchObject({
      statusCode: 409,
      code: "NodeBeingStarted",
    });
    await expect(batch.rebootNode("ffmpeg-pool", "tvmps_0")).rejects.toMatchObject({
      statusCode: 409,
      code: "NodeBeingRebooted",
    });
    await expect(batch.rebootNode("ffmpeg-pool", "tvmps_9")).rejects.toMatchObject({
      statusCode: 404,
      code: "NodeNotFound",
    });
    expect(standIn.violations).toEqual([]);
    expect(standIn.requests.map((r) => [r.path, r.headers["content-type"], r.body])).toEqual(
      ["tvmps_0", "tvmps_2", "tvmps_1", "tvmps_0", "tvmps_9"].map((n) => [
        `/pools/ffmpeg-pool/nodes/${n}/reboot`,
        BATCH_CONTENT_TYPE,
        { nodeRebootOption: "taskcompletion" },
      ]),
    );
    expect(standIn.nodeStates()).toEqual({
      tvmps_0: "rebooting",
      tvmps_1: "starting",
      tvmps_2: "rebooting",
    });
  } finally {
    await standIn.close();
  }
});

test("the stand-in answers an unknown state or property 400, as Batch does, and lists the rest", async () => {
  const standIn = await startBatchStandIn(
    scenario({ jobs: [{ id: "j", state: "active", tasks: [] }] }),
  );
  const get = (query: string) =>
    fetch(`${standIn.url}/jobs?api-version=2022-10-01.16.0&${query}`, {
      headers: { authorization: `Bearer ${BATCH_TOKEN}` },
    }).then(async (r) => [r.status, await r.json()]);
  try {
    expect(await get("$filter=state eq 'deleted'")).toEqual([
      400,
      expect.objectContaining({ code: "InvalidQueryParameterValue" }),
    ]);
    expect(await get("$select=id,nope")).toEqual([
      400,
      expect.objectContaining({ code: "InvalidQueryParameterValue" }),
    ]);
    expect(await get("$select=id,state")).toEqual([200, { value: [{ id: "j", state: "active" }] }]);
    expect(standIn.violations).toEqual([]);
    // A filter it does not implement is a violation, never an unfiltered answer.
    expect((await get("$filter=startswith(id,'j')"))[0]).toBe(500);
    expect(standIn.violations).toEqual([
      "GET /jobs: handler threw $filter the stand-in does not implement: startswith(id,'j')",
    ]);
  } finally {
    await standIn.close();
  }
});
