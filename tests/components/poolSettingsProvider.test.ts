import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { BatchManagementClient } from "@azure/arm-batch";
import { IMMUTABLE_POOL_PROPERTIES } from "../../components/pool";
import { staticTokenCredential } from "../../lib/azure/credentials";
import type { BatchAccountTarget } from "../../lib/azure/armBatchApps";
import {
  POOL_SETTINGS,
  diffPoolSettings,
  patchPool,
  poolPatchBody,
  poolSettingsProvider,
  type PoolSettingsInputs,
} from "../../components/poolSettingsProvider";
import { startArmPoolStandIn, type ArmPoolStandIn } from "../../standins/armPoolStandIn";
import { UBUNTU_2404_DEPLOYMENT } from "../support/expectedPool";
import { armIds } from "../support/fakeAzure";

const SUB = "00000000-0000-0000-0000-0000000000dd";
const RG = "rg-hpc";
const ACCOUNT = "bahpc04";
const POOL = "hpc-pool";
const TOKEN = "pool-stand-in-token";
const ACCOUNT_ID = armIds(SUB).batchAccount(RG, ACCOUNT);
const POOL_ID = `${ACCOUNT_ID}/pools/${POOL}`;
const APP_ID = `${ACCOUNT_ID}/applications/ffmpeg`;
const UNKNOWN = pulumi.runtime.unknownValue as string;

const FIXED = { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0 } };
const FIXED_2 = { fixedScale: { targetDedicatedNodes: 2, targetLowPriorityNodes: 0 } };
const AUTO = { autoScale: { formula: "$TargetDedicatedNodes = 1;", evaluationInterval: "PT5M" } };
const TASK = {
  commandLine: "/bin/sh -c 'hostname'",
  waitForSuccess: true,
  userIdentity: { autoUser: { scope: "Pool", elevationLevel: "NonAdmin" } },
};
const TASK_2 = { ...TASK, commandLine: "/bin/sh -c 'uname -a'" };

/** The resource's state after the pool was created with these settings. */
const olds: PoolSettingsInputs = {
  subscriptionId: SUB,
  resourceGroupName: RG,
  accountName: ACCOUNT,
  poolName: POOL,
  armEndpoint: "https://management.azure.com",
  poolCreationTime: "2025-01-01T00:01:00.000Z",
  scaleSettings: FIXED,
  startTask: TASK,
  applicationPackages: [{ id: APP_ID }],
  tags: { env: "test" },
};

describe("poolPatchBody: the same pool, so the previous settings are the base", () => {
  test.each<[string, Partial<PoolSettingsInputs>, unknown]>([
    ["nothing changed: no request", {}, undefined],
    [
      "a scale change: only scaleSettings",
      { scaleSettings: FIXED_2 },
      { properties: { scaleSettings: FIXED_2 } },
    ],
    [
      "fixed scale to autoscale: only scaleSettings",
      { scaleSettings: AUTO },
      { properties: { scaleSettings: AUTO } },
    ],
    [
      "a start task change: only startTask",
      { startTask: TASK_2 },
      { properties: { startTask: TASK_2 } },
    ],
    [
      "a packages change: only applicationPackages",
      { applicationPackages: [{ id: APP_ID, version: "1.2.0" }] },
      { properties: { applicationPackages: [{ id: APP_ID, version: "1.2.0" }] } },
    ],
    ["a tags change: top-level tags only", { tags: { env: "prod" } }, { tags: { env: "prod" } }],
    [
      "the start task removed: startTask {} (PoolUpdate_RemoveStartTask.json)",
      { startTask: undefined },
      { properties: { startTask: {} } },
    ],
    [
      "the packages removed: an empty list",
      { applicationPackages: undefined },
      { properties: { applicationPackages: [] } },
    ],
    [
      "scale and packages: both, nothing else",
      { scaleSettings: FIXED_2, applicationPackages: [{ id: APP_ID, version: "1.2.0" }] },
      {
        properties: {
          scaleSettings: FIXED_2,
          applicationPackages: [{ id: APP_ID, version: "1.2.0" }],
        },
      },
    ],
    [
      "the same values in another key order: no request",
      { scaleSettings: { fixedScale: { targetLowPriorityNodes: 0, targetDedicatedNodes: 0 } } },
      undefined,
    ],
    [
      "what azure-native reports does not matter for the same pool",
      { reported: { scaleSettings: FIXED_2, tags: {} } },
      undefined,
    ],
  ])("%s", (_t, over, body) => {
    expect(poolPatchBody(olds, { ...olds, ...over })).toEqual(body);
  });

  test("an immutable change is never part of a PATCH", () => {
    // The resource owns only the settings Batch changes on a pool with nodes.
    expect(POOL_SETTINGS).toEqual(["scaleSettings", "startTask", "applicationPackages", "tags"]);
    expect(POOL_SETTINGS.filter((p) => IMMUTABLE_POOL_PROPERTIES.includes(p))).toEqual([]);
    const news = { ...olds, vmSize: "Standard_F4s_v2", taskSlotsPerNode: 4 } as PoolSettingsInputs;
    expect(poolPatchBody(olds, news)).toBeUndefined();
  });
});

describe("poolPatchBody: a new pool, so what azure-native reported is the base", () => {
  // As azure-native reports a pool: Batch's defaults added (PoolCreate_*.json responses).
  const reported = {
    scaleSettings: { fixedScale: { ...FIXED.fixedScale, resizeTimeout: "PT15M" } },
    startTask: { ...TASK, maxTaskRetryCount: 0 },
    applicationPackages: [{ id: APP_ID }],
    tags: { env: "test" },
  };
  const withReport = (over: Partial<PoolSettingsInputs> = {}) => ({ ...olds, reported, ...over });
  test.each<[string, PoolSettingsInputs | undefined, PoolSettingsInputs, unknown]>([
    ["created with these settings, nothing reported: no request", undefined, olds, undefined],
    [
      "created with these settings (Batch's defaults beside them): no request",
      undefined,
      withReport(),
      undefined,
    ],
    [
      "a stack from before this resource, whose pool pins a version: the references",
      undefined,
      withReport({
        reported: { ...reported, applicationPackages: [{ id: APP_ID, version: "1.0.0" }] },
      }),
      { properties: { applicationPackages: [{ id: APP_ID }] } },
    ],
    [
      "the pool re-created (another creationTime) from azure-native's old values",
      olds,
      withReport({
        poolCreationTime: "2025-02-01T00:00:00.000Z",
        reported: { ...reported, scaleSettings: AUTO, startTask: undefined, tags: undefined },
      }),
      { properties: { scaleSettings: FIXED, startTask: TASK }, tags: { env: "test" } },
    ],
    [
      "the pool still on autoscale while the settings want a fixed scale",
      undefined,
      withReport({
        reported: { ...reported, scaleSettings: { ...AUTO, ...reported.scaleSettings } },
      }),
      { properties: { scaleSettings: FIXED } },
    ],
    [
      "a start task the settings no longer have: removed",
      undefined,
      withReport({ startTask: undefined }),
      { properties: { startTask: {} } },
    ],
    [
      "package ids differ only in case: the same reference",
      undefined,
      withReport({ applicationPackages: [{ id: APP_ID.toUpperCase() }] }),
      undefined,
    ],
  ])("%s", (_t, before, news, body) => {
    expect(poolPatchBody(before, news)).toEqual(body);
  });
});

describe("diffPoolSettings", () => {
  const NONE = { changes: false, replaces: [], deleteBeforeReplace: false };
  test.each<[string, Partial<PoolSettingsInputs>, unknown]>([
    ["unchanged: nothing to do", {}, NONE],
    [
      "a scale change: an update in place",
      { scaleSettings: FIXED_2 },
      { changes: true, replaces: [], deleteBeforeReplace: false },
    ],
    [
      "another pool instance: an update (its settings may be old)",
      { poolCreationTime: "2025-02-01T00:00:00.000Z" },
      { changes: true, replaces: [], deleteBeforeReplace: false },
    ],
    [
      "another pool name: a new resource, no request",
      { poolName: "other" },
      { changes: true, replaces: ["poolName"], deleteBeforeReplace: false },
    ],
    [
      "another endpoint and account",
      { accountName: "other", armEndpoint: "https://management.usgovcloudapi.net" },
      { changes: true, replaces: ["accountName", "armEndpoint"], deleteBeforeReplace: false },
    ],
    ["a case-only resource group change is the same group", { resourceGroupName: "RG-HPC" }, NONE],
    ["a new report alone changes nothing", { reported: { scaleSettings: FIXED_2 } }, NONE],
    [
      "unknown in preview: maybe a change",
      { scaleSettings: UNKNOWN as never },
      { changes: true, replaces: [], deleteBeforeReplace: false },
    ],
  ])("%s", (_t, over, expected) => {
    expect(diffPoolSettings(olds, { ...olds, ...over })).toEqual(expected);
  });
});

describe("patchPool and the provider against the strict pool stand-in", () => {
  let arm: ArmPoolStandIn;
  let target: BatchAccountTarget;
  let expectedViolations: string[];
  const savedToken = process.env.AZURE_ACCESS_TOKEN;
  const existing = {
    vmSize: "Standard_D2s_v5",
    deploymentConfiguration: UBUNTU_2404_DEPLOYMENT,
    scaleSettings: FIXED,
    startTask: TASK,
    applicationPackages: [{ id: APP_ID }],
    targetNodeCommunicationMode: "Simplified",
  };
  const calls = () =>
    arm.requests.map((r) => ({
      method: r.method,
      path: r.path,
      apiVersion: r.query.get("api-version"),
      body: r.body,
    }));

  beforeEach(async () => {
    process.env.AZURE_ACCESS_TOKEN = TOKEN;
    arm = await startArmPoolStandIn({
      subscriptionId: SUB,
      resourceGroup: RG,
      account: ACCOUNT,
      token: TOKEN,
      pools: { [POOL]: existing },
    });
    target = {
      endpoint: arm.url,
      credential: staticTokenCredential(TOKEN),
      subscriptionId: SUB,
      resourceGroup: RG,
      account: ACCOUNT,
    };
    expectedViolations = [];
  });
  afterEach(async () => {
    // Clean up before asserting, so a violation cannot leave the stand-in or env behind.
    const violations = arm.violations;
    await arm.close();
    if (savedToken === undefined) delete process.env.AZURE_ACCESS_TOKEN;
    else process.env.AZURE_ACCESS_TOKEN = savedToken;
    expect(violations).toEqual(expectedViolations);
  });

  test("a scale change is ONE PATCH whose body has only properties.scaleSettings", async () => {
    const body = poolPatchBody(olds, { ...olds, scaleSettings: FIXED_2 })!;
    const pool = await patchPool(target, POOL, body);
    expect(calls()).toEqual([
      {
        method: "PATCH",
        path: POOL_ID,
        apiVersion: "2025-06-01",
        body: { properties: { scaleSettings: FIXED_2 } },
      },
    ]);
    expect(arm.requests[0].headers["content-type"]).toBe("application/json");
    expect(arm.counts).toEqual({ "PATCH pool": 1 });
    // Only scaleSettings changed; the rest of the pool is as it was.
    const props = arm.pools.get(POOL)!.properties;
    expect(props.scaleSettings).toEqual(FIXED_2);
    expect(props.startTask).toEqual(TASK);
    expect(props.applicationPackages).toEqual([{ id: APP_ID }]);
    expect(props.vmSize).toBe("Standard_D2s_v5");
    expect(pool.id).toBe(POOL_ID);
    expect((pool.properties as Record<string, unknown>).scaleSettings).toEqual(FIXED_2);
  });

  test("tags go at the top level of the body, beside properties", async () => {
    await patchPool(target, POOL, { tags: { env: "prod" } });
    expect(calls().map((c) => c.body)).toEqual([{ tags: { env: "prod" } }]);
    expect(arm.pools.get(POOL)!.tags).toEqual({ env: "prod" });
  });

  test("an immutable property in a PATCH is refused, the failure naming the step and pool", async () => {
    await expect(
      patchPool(target, POOL, { properties: { vmSize: "Standard_F4s_v2" } }),
    ).rejects.toThrow(
      new Error(
        "pool hpc-pool: PATCH of vmSize failed: PropertyCannotBeUpdated A property that cannot be updated was specified as part of the request.",
      ),
    );
    expect(arm.pools.get(POOL)!.properties.vmSize).toBe("Standard_D2s_v5");
  });

  test("a PATCH of a missing pool: PoolNotFound", async () => {
    await expect(
      patchPool(target, "gone", { properties: { scaleSettings: FIXED_2 } }),
    ).rejects.toThrow(
      new Error(
        "pool gone: PATCH of scaleSettings failed: PoolNotFound The specified pool does not exist.",
      ),
    );
  });

  test("the stand-in refuses a PUT of the existing pool, as azure-native's update would send", async () => {
    const client = new BatchManagementClient(target.credential, SUB, {
      endpoint: arm.url,
      apiVersion: "2025-06-01",
      retryOptions: { maxRetries: 0 },
    });
    await expect(
      client.poolOperations.create(RG, ACCOUNT, POOL, {
        vmSize: existing.vmSize,
        deploymentConfiguration: existing.deploymentConfiguration,
        scaleSettings: FIXED_2,
      }),
    ).rejects.toMatchObject({
      statusCode: 400,
      code: "PropertyCannotBeUpdated",
      message: "A property that cannot be updated was specified as part of the request.",
    });
    expectedViolations = ["PUT pool hpc-pool: a PUT of an existing pool (use PATCH)"];
    // Unchanged: still the stand-in's pool, Batch's resizeTimeout default beside the scale.
    expect(arm.pools.get(POOL)!.properties.scaleSettings).toEqual({
      fixedScale: { ...FIXED.fixedScale, resizeTimeout: "PT15M" },
    });
  });

  test("the provider: create and delete send nothing, update sends the PATCH", async () => {
    const inputs = { ...olds, armEndpoint: arm.url };
    const created = await poolSettingsProvider.create!(inputs);
    expect(created).toEqual({ id: POOL_ID, outs: inputs });
    expect(arm.requests).toEqual([]);
    const news = { ...inputs, scaleSettings: FIXED_2 };
    expect(await poolSettingsProvider.diff!(created.id, inputs, news)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    expect(await poolSettingsProvider.update!(created.id, inputs, news)).toEqual({ outs: news });
    await poolSettingsProvider.delete!(created.id, news);
    expect(calls()).toEqual([
      {
        method: "PATCH",
        path: POOL_ID,
        apiVersion: "2025-06-01",
        body: { properties: { scaleSettings: FIXED_2 } },
      },
    ]);
  });

  test("survives Pulumi's function serialization: the serialized provider PATCHes from a fresh process", async () => {
    const sf = await pulumi.runtime.serializeFunction(() => poolSettingsProvider, {
      allowSecrets: true,
    });
    // The SDKs load on first use (a plan loads this module and never PATCHes): the serialized
    // text requires them by package name, inside the functions that use them.
    expect(sf.text).toContain('require("@azure/core-rest-pipeline")');
    expect(sf.text).toContain('require("@azure/arm-batch")');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-pool-provider-"));
    const file = path.join(dir, "provider.js");
    fs.writeFileSync(file, sf.text);
    // The steps of Pulumi's dynamic provider host: require-from-string, handler(), then CRUD.
    const script = `
      const fs = require("node:fs");
      const requireFromString = require("require-from-string");
      const provider = requireFromString(fs.readFileSync(process.env.PROVIDER_FILE, "utf8")).handler();
      const olds = JSON.parse(process.env.OLDS);
      const news = JSON.parse(process.env.NEWS);
      (async () => {
        const created = await provider.create(olds);
        const diff = await provider.diff(created.id, olds, news);
        const updated = await provider.update(created.id, olds, news);
        let refused;
        try {
          await provider.update(created.id, olds, { ...news, poolName: "gone" });
        } catch (err) {
          refused = err.message;
        }
        process.stdout.write(JSON.stringify({ id: created.id, diff, updated, refused }));
      })().catch((err) => {
        process.stderr.write(String((err && err.stack) || err));
        process.exit(1);
      });`;
    const inputs = { ...olds, armEndpoint: arm.url };
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ["-e", script],
          {
            cwd: path.join(__dirname, "..", ".."),
            env: {
              ...process.env,
              PROVIDER_FILE: file,
              OLDS: JSON.stringify(inputs),
              NEWS: JSON.stringify({ ...inputs, startTask: TASK_2 }),
            },
          },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      expect(JSON.parse(out)).toEqual({
        id: POOL_ID,
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
        updated: { outs: { ...inputs, startTask: TASK_2 } },
        refused:
          "pool gone: PATCH of startTask failed: PoolNotFound The specified pool does not exist.",
      });
      expect(
        calls().map((c) => `${c.method} ${c.path.split("/").pop()} ${JSON.stringify(c.body)}`),
      ).toEqual([
        `PATCH ${POOL} ${JSON.stringify({ properties: { startTask: TASK_2 } })}`,
        `PATCH gone ${JSON.stringify({ properties: { startTask: TASK_2 } })}`,
      ]);
      expect(arm.pools.get(POOL)!.properties.startTask).toEqual(TASK_2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
