import * as pulumi from "@pulumi/pulumi";
import { simulate, unwrap } from "../helpers";
import { BatchPool } from "../../components/pool";
import { InputError } from "../../lib/core/errors";
import { InputErrors } from "../../lib/core/config";
import { armIds, fakeAzure } from "../support/fakeAzure";
import {
  POOL_IGNORE_CHANGES,
  POOL_REPLACE_ON_CHANGES,
  UBUNTU_2404_DEPLOYMENT,
  UBUNTU_2404_IMAGE,
} from "../support/expectedPool";

const SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const IDENTITY_ID = armIds(SUB).userAssignedIdentity("rg-hpc", "id-bahpc01");
const GALLERY = `/subscriptions/${SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/hpc/images/ubuntu-ffmpeg/versions/1.0.0`;
const COMPONENT = "hpc-batch:batch:BatchPool";
const POOL = "azure-native:batch:Pool";
const SETTINGS = "pulumi-nodejs:dynamic/batch:PoolSettings";
const SCALE =
  "only one of [dedicatedNodes, spotNodes] and [autoScaleFormula, autoScaleEvaluationInterval] can be specified: a pool has either a fixed scale or an autoscale formula";

const azure = fakeAzure({ subscriptionId: SUB });
const sim = simulate({
  project: "hpc-batch",
  stack: "test",
  id: (r) => azure.id(r) ?? `${r.name}-id`,
  state: (r) => azure.state(r) ?? {},
});

const base = {
  resourceGroupName: "rg-hpc",
  accountName: "bahpc01",
  identityId: IDENTITY_ID,
};

test("defaults: Ubuntu 24.04, D2s_v5, fixed 0/0, one slot, simplified, identity on the nodes", async () => {
  const p = new BatchPool("pool", { ...base, poolName: "hpc-pool" });
  await sim.settle();

  const comp = sim.find(COMPONENT, "pool");
  expect(comp.custom).toBe(false);
  expect(comp.parent).toBeUndefined();
  const pool = sim.find(POOL, "pool");
  expect(pool.parent).toBe(comp.urn);
  expect(pool.inputs).toEqual({
    resourceGroupName: "rg-hpc",
    accountName: "bahpc01",
    poolName: "hpc-pool",
    vmSize: "Standard_D2s_v5",
    deploymentConfiguration: UBUNTU_2404_DEPLOYMENT,
    // resizeTimeout is azure-native's own default for fixed scale.
    scaleSettings: {
      fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0, resizeTimeout: "PT15M" },
    },
    taskSlotsPerNode: 1,
    targetNodeCommunicationMode: "Simplified",
    identity: { type: "UserAssigned", userAssignedIdentities: [IDENTITY_ID] },
  });
  expect(pool.options.replaceOnChanges).toEqual(POOL_REPLACE_ON_CHANGES);
  expect(pool.options.ignoreChanges).toEqual(POOL_IGNORE_CHANGES);
  expect(pool.options.deleteBeforeReplace).toBe(true);

  // The companion that PATCHes the updatable settings: a child of the component, after the pool.
  const settings = sim.find(SETTINGS, "pool-settings");
  expect(settings.custom).toBe(true);
  expect(settings.parent).toBe(comp.urn);
  expect(settings.options.dependsOn).toEqual([pool.urn]);
  expect(settings.options.deleteBeforeReplace).toBe(false);
  const { __provider, ...inputs } = settings.inputs;
  expect(typeof __provider).toBe("string");
  expect(inputs).toEqual({
    subscriptionId: SUB,
    resourceGroupName: "rg-hpc",
    accountName: "bahpc01",
    poolName: "hpc-pool",
    armEndpoint: "https://management.azure.com",
    scaleSettings: { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0 } },
    // What azure-native reports for the pool (here its inputs, azure-native's defaults included).
    reported: {
      scaleSettings: {
        fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0, resizeTimeout: "PT15M" },
      },
    },
  });

  const poolId = `/subscriptions/${SUB}/resourceGroups/rg-hpc/providers/Microsoft.Batch/batchAccounts/bahpc01/pools/hpc-pool`;
  expect(comp.outputs).toEqual({ poolName: "hpc-pool", poolId });
  expect(await unwrap(p.poolName)).toBe("hpc-pool");
  expect(await unwrap(p.poolId)).toBe(poolId);
});

test("fixed scale: dedicated and spot (low-priority) nodes", async () => {
  new BatchPool("fixed", { ...base, poolName: "fixed", dedicatedNodes: 1, spotNodes: 4 });
  await sim.settle();
  expect(sim.find(POOL, "fixed").inputs.scaleSettings).toEqual({
    fixedScale: { targetDedicatedNodes: 1, targetLowPriorityNodes: 4, resizeTimeout: "PT15M" },
  });
});

test("autoscale, a gallery image, an elevated start task, packages and tags", async () => {
  new BatchPool("custom", {
    ...base,
    poolName: "custom",
    vmSize: "Standard_F4s_v2",
    autoScaleFormula: "$TargetLowPriorityNodes = 0;",
    autoScaleEvaluationInterval: "PT5M",
    taskSlotsPerNode: 4,
    customImageId: GALLERY,
    nodeAgentSkuId: "batch.node.ubuntu 22.04",
    startTask: {
      commandLine: "/bin/sh -c 'apt-get install -y jq'",
      runElevated: true,
      waitForSuccess: false,
    },
    applicationPackages: [{ id: "ffmpeg", version: "7.0.2" }, { id: "tools" }],
    tags: { env: "test" },
  });
  await sim.settle();
  expect(sim.find(POOL, "custom").inputs).toEqual({
    resourceGroupName: "rg-hpc",
    accountName: "bahpc01",
    poolName: "custom",
    vmSize: "Standard_F4s_v2",
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: { id: GALLERY },
        nodeAgentSkuId: "batch.node.ubuntu 22.04",
      },
    },
    scaleSettings: {
      autoScale: { formula: "$TargetLowPriorityNodes = 0;", evaluationInterval: "PT5M" },
    },
    taskSlotsPerNode: 4,
    // maxTaskRetryCount is azure-native's own default.
    startTask: {
      commandLine: "/bin/sh -c 'apt-get install -y jq'",
      waitForSuccess: false,
      userIdentity: { autoUser: { scope: "Pool", elevationLevel: "Admin" } },
      maxTaskRetryCount: 0,
    },
    targetNodeCommunicationMode: "Simplified",
    identity: { type: "UserAssigned", userAssignedIdentities: [IDENTITY_ID] },
    applicationPackages: [{ id: "ffmpeg", version: "7.0.2" }, { id: "tools" }],
    tags: { env: "test" },
  });
  const settings = { ...sim.find(SETTINGS, "custom-settings").inputs };
  delete settings.__provider;
  delete settings.reported;
  // The updatable settings in ARM shape: what a PATCH would carry.
  expect(settings).toEqual({
    subscriptionId: SUB,
    resourceGroupName: "rg-hpc",
    accountName: "bahpc01",
    poolName: "custom",
    armEndpoint: "https://management.azure.com",
    scaleSettings: {
      autoScale: { formula: "$TargetLowPriorityNodes = 0;", evaluationInterval: "PT5M" },
    },
    startTask: {
      commandLine: "/bin/sh -c 'apt-get install -y jq'",
      waitForSuccess: false,
      userIdentity: { autoUser: { scope: "Pool", elevationLevel: "Admin" } },
    },
    applicationPackages: [{ id: "ffmpeg", version: "7.0.2" }, { id: "tools" }],
    tags: { env: "test" },
  });
});

test("a VM size change replaces the pool (delete first); scale, start task, packages and tags are PATCHed", async () => {
  new BatchPool("resize", {
    ...base,
    poolName: "resize",
    vmSize: "Standard_F4s_v2",
    armEndpoint: "https://management.usgovcloudapi.net",
  });
  await sim.settle();
  const pool = sim.find(POOL, "resize");
  // Pulumi replaces on a vmSize change, deleting the old pool first (same pool id).
  expect(pool.options.replaceOnChanges).toContain("vmSize");
  expect(pool.options.deleteBeforeReplace).toBe(true);
  // No property is both replaced and patched; azure-native never sees a change it would PUT.
  expect(pool.options.ignoreChanges.filter((p) => POOL_REPLACE_ON_CHANGES.includes(p))).toEqual([]);
  expect(sim.find(SETTINGS, "resize-settings").inputs.armEndpoint).toBe(
    "https://management.usgovcloudapi.net",
  );
});

test("a start task runs non-admin and waits for success by default; autoscale interval defaults to PT15M", async () => {
  new BatchPool("plain-task", {
    ...base,
    poolName: "plain-task",
    autoScaleFormula: "$TargetDedicatedNodes = 0;",
    image: {
      publisher: "canonical",
      offer: "ubuntu-24_04-lts",
      sku: "server-gen1",
      version: "latest",
    },
    startTask: { commandLine: "hostname" },
  });
  await sim.settle();
  const pool = sim.find(POOL, "plain-task");
  expect(pool.inputs.startTask).toEqual({
    commandLine: "hostname",
    waitForSuccess: true,
    userIdentity: { autoUser: { scope: "Pool", elevationLevel: "NonAdmin" } },
    maxTaskRetryCount: 0,
  });
  expect(pool.inputs.scaleSettings).toEqual({
    autoScale: { formula: "$TargetDedicatedNodes = 0;", evaluationInterval: "PT15M" },
  });
  expect(pool.inputs.deploymentConfiguration).toEqual({
    virtualMachineConfiguration: {
      imageReference: {
        publisher: "canonical",
        offer: "ubuntu-24_04-lts",
        sku: "server-gen1",
        version: "latest",
      },
      nodeAgentSkuId: "batch.node.ubuntu 24.04",
    },
  });
});

test("Output args are passed through (checked by Azure, not up front)", async () => {
  new BatchPool("outputs", {
    ...base,
    poolName: pulumi.output("outputs"),
    dedicatedNodes: pulumi.output(2),
    applicationPackages: pulumi.output([{ id: "ffmpeg" }]),
  });
  await sim.settle();
  const pool = sim.find(POOL, "outputs");
  expect(pool.inputs.poolName).toBe("outputs");
  expect(pool.inputs.scaleSettings).toEqual({
    fixedScale: { targetDedicatedNodes: 2, targetLowPriorityNodes: 0, resizeTimeout: "PT15M" },
  });
  expect(pool.inputs.applicationPackages).toEqual([{ id: "ffmpeg" }]);
});

describe("bad args throw before anything is registered", () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      "bad1",
      { dedicatedNodes: 1, autoScaleFormula: "$TargetDedicatedNodes = 1;" },
      `BatchPool(bad1).autoScaleFormula "$TargetDedicatedNodes = 1;" is invalid: ${SCALE}`,
    ],
    [
      "bad2",
      { spotNodes: pulumi.output(1), autoScaleFormula: pulumi.output("x") },
      `BatchPool(bad2).autoScaleFormula "<computed>" is invalid: ${SCALE}`,
    ],
    [
      "bad3",
      {
        image: UBUNTU_2404_IMAGE,
        customImageId: GALLERY,
      },
      `BatchPool(bad3).customImageId "${GALLERY.slice(0, 116)}... is invalid: only one of [image] and [customImageId] can be specified`,
    ],
    [
      "bad4",
      { nodeAgentSkuId: "batch.node.ubuntu 20.04" },
      'BatchPool(bad4).nodeAgentSkuId "batch.node.ubuntu 20.04" is invalid: the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"',
    ],
    [
      "bad5",
      { taskSlotsPerNode: 512 },
      "BatchPool(bad5).taskSlotsPerNode 512 is invalid: must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)",
    ],
    [
      "bad6",
      { poolName: "pool 6" },
      `BatchPool(bad6).poolName "pool 6" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
    ],
    [
      "bad7",
      { applicationPackages: Array.from({ length: 11 }, (_, i) => ({ id: `app${i}` })) },
      `BatchPool(bad7).applicationPackages [{"id":"app0"},{"id":"app1"},{"id":"app2"},{"id":"app3"},{"id":"app4"},{"id":"app5"},{"id":"app6"},{"id":"app7"},{"id... is invalid: must list at most 10 application packages`,
    ],
    [
      "bad8",
      { autoScaleFormula: "x = 1;", autoScaleEvaluationInterval: "PT1M" },
      'BatchPool(bad8).autoScaleEvaluationInterval "PT1M" is invalid: must be an ISO 8601 duration from PT5M to PT168H, e.g. "PT5M" or "PT1H"',
    ],
    [
      "bad11",
      { armEndpoint: "http://localhost" },
      `BatchPool(bad11).armEndpoint "http://localhost" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com`,
    ],
    [
      "bad9",
      { startTask: { commandLine: "" } },
      "BatchPool(bad9).startTask.commandLine \"\" is invalid: must be a non-empty command line (it is not run in a shell: wrap it in /bin/sh -c '...' to use one)",
    ],
  ])("%s", async (name, extra, message) => {
    const make = () => new BatchPool(name, { ...base, poolName: name, ...extra } as never);
    expect(make).toThrow(InputError);
    expect(make).toThrow(new Error(message));
    await sim.settle();
    expect(sim.registrations.filter((r) => r.name.startsWith(name))).toEqual([]);
  });

  test("several problems are reported together", () => {
    const make = () =>
      new BatchPool("bad10", {
        ...base,
        poolName: "bad10",
        vmSize: "large",
        spotNodes: -2,
        autoScaleFormula: "x = 1;",
      });
    expect(make).toThrow(InputErrors);
    expect(make).toThrow(
      new Error(
        [
          `BatchPool(bad10).vmSize "large" is invalid: must be an Azure VM size such as "Standard_D2s_v5" ('Standard_' then letters, digits and '_')`,
          "BatchPool(bad10).spotNodes -2 is invalid: must be a whole number, 0 or more",
          `BatchPool(bad10).autoScaleFormula "x = 1;" is invalid: ${SCALE}`,
        ].join("\n"),
      ),
    );
  });
});
