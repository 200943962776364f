import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  InputErrors,
  baseTags,
  checkStackFileKeys,
  parseStackConfig,
  throwIfAny,
  type StackSettings,
} from "../../../lib/core/config";
import {
  RETIRED_NODE_AGENTS,
  RETIRED_NODE_AGENT_RULE,
  checkPoolSpec,
  isoDurationSeconds,
} from "../../../lib/core/poolRules";
import { closestKey, isKnownValue } from "../../../lib/core/validate";
import * as errors from "../../../lib/core/errors";
import { InputError } from "../../../lib/core/errors";
import { UBUNTU_2404_IMAGE } from "../../support/expectedPool";

const LOC = { "azure-native:location": "westeurope" };

/** What a stack that sets only its location gets. */
const DEFAULT_SETTINGS: StackSettings = {
  location: "westeurope",
  pool: {},
  tags: {},
  publicNetworkAccess: "Enabled",
  deployerPrincipalType: "User",
  application: {
    id: "ffmpeg",
    displayName: "ffmpeg",
    folder: "hpc-application",
    retainVersions: 5,
    promote: "on-publish",
  },
};

const KNOWN_KEYS =
  "hpc-batch:applicationFolder, hpc-batch:applicationStorageAccountName, hpc-batch:batchAccountApplicationName, hpc-batch:batchAccountName, hpc-batch:batchAccountPoolName, hpc-batch:batchApplicationId, hpc-batch:batchApplicationVersion, hpc-batch:deployerObjectId, hpc-batch:deployerPrincipalType, hpc-batch:pool, hpc-batch:promote, hpc-batch:publicNetworkAccess, hpc-batch:resourceGroupName, hpc-batch:retainVersions, hpc-batch:tags";
const POOL_KEYS =
  "vmSize, dedicatedNodes, spotNodes, autoScaleFormula, autoScaleEvaluationInterval, taskSlotsPerNode, image, customImageId, nodeAgentSkuId, startTask";
const SCALE =
  "only one of [dedicatedNodes, spotNodes] and [autoScaleFormula, autoScaleEvaluationInterval] can be specified: a pool has either a fixed scale or an autoscale formula";
const INTERVAL = 'must be an ISO 8601 duration from PT5M to PT168H, e.g. "PT5M" or "PT1H"';
const GALLERY =
  "/subscriptions/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/hpc/images/ubuntu-ffmpeg/versions/1.0.0";

function projectFile(): { config: Record<string, { type?: string; default?: unknown }> } {
  return parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "Pulumi.yaml"), "utf8"));
}

describe("valid config", () => {
  test("a stack that sets only its location gets every default", () => {
    expect(parseStackConfig(LOC)).toEqual(DEFAULT_SETTINGS);
  });

  test("Pulumi.yaml declares exactly the known keys, with CONFIG_DEFAULTS as defaults", () => {
    const declared = projectFile().config;
    expect(Object.keys(declared).sort()).toEqual([...CONFIG_KEYS].sort());
    const defaults = Object.fromEntries(Object.entries(declared).map(([k, d]) => [k, d.default]));
    expect(defaults).toEqual(CONFIG_DEFAULTS);
  });

  test("Pulumi.yaml's defaults, as the CLI passes them (strings, objects as JSON), parse to the defaults", () => {
    const raw: Record<string, unknown> = { ...LOC };
    for (const [k, d] of Object.entries(projectFile().config)) {
      raw[`hpc-batch:${k}`] =
        typeof d.default === "object" ? JSON.stringify(d.default) : String(d.default);
    }
    expect(raw["hpc-batch:retainVersions"]).toBe("5");
    expect(parseStackConfig(raw)).toEqual(DEFAULT_SETTINGS);
  });

  test("every key set, objects as JSON text the way pulumi.runtime.allConfig() returns them", () => {
    const raw = {
      ...LOC,
      "azure-native:subscriptionId": "ignored: another namespace",
      "hpc-batch:resourceGroupName": "rg-hpc(prod).eu",
      "hpc-batch:applicationStorageAccountName": "sthpcprod01",
      "hpc-batch:batchAccountName": "bahpcprod01",
      "hpc-batch:batchAccountPoolName": "ffmpeg_pool-1",
      "hpc-batch:pool": JSON.stringify({
        vmSize: "Standard_F4s_v2",
        dedicatedNodes: 1,
        spotNodes: 3,
        taskSlotsPerNode: 4,
        image: {
          publisher: "canonical",
          offer: "ubuntu-24_04-lts",
          sku: "server-gen1",
          version: "latest",
        },
        nodeAgentSkuId: "batch.node.ubuntu 24.04",
        startTask: {
          commandLine: "/bin/sh -c 'apt-get install -y jq'",
          waitForSuccess: false,
          runElevated: true,
        },
      }),
      "hpc-batch:tags": JSON.stringify({ environment: "prod", owner: "hpc-team" }),
      "hpc-batch:publicNetworkAccess": "Disabled",
      "hpc-batch:deployerPrincipalType": "ServicePrincipal",
      "hpc-batch:deployerObjectId": "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b",
      "hpc-batch:batchApplicationId": "ffmpeg7",
      "hpc-batch:batchAccountApplicationName": "FFmpeg 7 (static)",
      "hpc-batch:batchApplicationVersion": "7.0.2-rc.1",
      "hpc-batch:applicationFolder": "apps/ffmpeg",
      "hpc-batch:retainVersions": "12",
      "hpc-batch:promote": "after-canary",
    };
    expect(parseStackConfig(raw)).toEqual({
      location: "westeurope",
      resourceGroupName: "rg-hpc(prod).eu",
      storageAccountName: "sthpcprod01",
      batchAccountName: "bahpcprod01",
      poolName: "ffmpeg_pool-1",
      pool: {
        vmSize: "Standard_F4s_v2",
        dedicatedNodes: 1,
        spotNodes: 3,
        taskSlotsPerNode: 4,
        image: {
          publisher: "canonical",
          offer: "ubuntu-24_04-lts",
          sku: "server-gen1",
          version: "latest",
        },
        nodeAgentSkuId: "batch.node.ubuntu 24.04",
        startTask: {
          commandLine: "/bin/sh -c 'apt-get install -y jq'",
          waitForSuccess: false,
          runElevated: true,
        },
      },
      tags: { environment: "prod", owner: "hpc-team" },
      publicNetworkAccess: "Disabled",
      deployerPrincipalType: "ServicePrincipal",
      deployerObjectId: "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b",
      application: {
        id: "ffmpeg7",
        displayName: "FFmpeg 7 (static)",
        version: "7.0.2-rc.1",
        folder: "apps/ffmpeg",
        retainVersions: 12,
        promote: "after-canary",
      },
    });
  });

  test.each([
    [
      "autoscale with an interval",
      { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT1H30M" },
    ],
    [
      "autoscale at the interval bounds (low)",
      { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT300S" },
    ],
    [
      "autoscale at the interval bounds (high)",
      { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "P7D" },
    ],
    ["a formula of exactly 8192 bytes", { autoScaleFormula: "a".repeat(8192) }],
    [
      "a gallery image version",
      { customImageId: GALLERY, nodeAgentSkuId: "batch.node.ubuntu 22.04" },
    ],
    [
      "a gallery image definition (latest version)",
      { customImageId: GALLERY.replace("/versions/1.0.0", "") },
    ],
    ["task slots at the bounds", { taskSlotsPerNode: 256 }],
    ["zero nodes", { dedicatedNodes: 0, spotNodes: 0 }],
    ["a start task with only a command line", { startTask: { commandLine: "hostname" } }],
  ])("pool: %s", (_label, pool) => {
    expect(parseStackConfig({ ...LOC, "hpc-batch:pool": pool }).pool).toEqual(pool);
  });

  test.each([
    ["a number", 40, 40],
    ["a string", "1", 1],
  ])("retainVersions as %s", (_label, value, expected) => {
    expect(
      parseStackConfig({ ...LOC, "hpc-batch:retainVersions": value }).application.retainVersions,
    ).toBe(expected);
  });
});

describe("invalid config: one error, the exact message", () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      "no location",
      {},
      'azure-native:location (unset) is invalid: must be set to an Azure region name such as "westeurope" (lowercase letters and digits)',
    ],
    [
      "a location display name",
      { "azure-native:location": "West Europe" },
      'azure-native:location "West Europe" is invalid: must be set to an Azure region name such as "westeurope" (lowercase letters and digits)',
    ],
    [
      "an unknown key",
      { ...LOC, "hpc-batch:poolSize": 3 },
      `hpc-batch:poolSize 3 is invalid: is not a known hpc-batch setting; known keys: ${KNOWN_KEYS}`,
    ],
    [
      "a bad resource group name",
      { ...LOC, "hpc-batch:resourceGroupName": "rg." },
      `hpc-batch:resourceGroupName "rg." is invalid: must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'`,
    ],
    [
      "a bad storage account name",
      { ...LOC, "hpc-batch:applicationStorageAccountName": "My_Storage" },
      'hpc-batch:applicationStorageAccountName "My_Storage" is invalid: must be 3 to 24 lowercase letters and digits',
    ],
    [
      "a bad Batch account name",
      { ...LOC, "hpc-batch:batchAccountName": "ba" },
      'hpc-batch:batchAccountName "ba" is invalid: must be 3 to 24 lowercase letters and digits',
    ],
    [
      "a bad pool name",
      { ...LOC, "hpc-batch:batchAccountPoolName": "pool.1" },
      `hpc-batch:batchAccountPoolName "pool.1" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
    ],
    [
      "a pool that is not an object",
      { ...LOC, "hpc-batch:pool": "small" },
      'hpc-batch:pool "small" is invalid: must be an object (a YAML mapping under the key)',
    ],
    [
      "a pool that is a list",
      { ...LOC, "hpc-batch:pool": "[1,2]" },
      'hpc-batch:pool "[1,2]" is invalid: must be an object (a YAML mapping under the key)',
    ],
    [
      "an unknown pool setting",
      { ...LOC, "hpc-batch:pool": { vmsize: "Standard_D2s_v5" } },
      `hpc-batch:pool.vmsize "Standard_D2s_v5" is invalid: is not a known pool setting (did you mean vmSize?); known: ${POOL_KEYS}`,
    ],
    [
      "dedicated nodes as a word",
      { ...LOC, "hpc-batch:pool": { dedicatedNodes: "two" } },
      'hpc-batch:pool.dedicatedNodes "two" is invalid: must be a whole number, 0 or more',
    ],
    [
      "negative spot nodes",
      { ...LOC, "hpc-batch:pool": { spotNodes: -1 } },
      "hpc-batch:pool.spotNodes -1 is invalid: must be a whole number, 0 or more",
    ],
    [
      "fixed scale and autoscale together",
      {
        ...LOC,
        "hpc-batch:pool": { dedicatedNodes: 1, autoScaleFormula: "$TargetDedicatedNodes = 1;" },
      },
      `hpc-batch:pool.autoScaleFormula "$TargetDedicatedNodes = 1;" is invalid: ${SCALE}`,
    ],
    [
      "spot nodes and an evaluation interval (but no formula)",
      { ...LOC, "hpc-batch:pool": { spotNodes: 1, autoScaleEvaluationInterval: "PT5M" } },
      'hpc-batch:pool.autoScaleEvaluationInterval "PT5M" is invalid: needs autoScaleFormula: the evaluation interval only applies to an autoscaled pool',
    ],
    [
      "an interval below PT5M",
      {
        ...LOC,
        "hpc-batch:pool": { autoScaleFormula: "x = 1;", autoScaleEvaluationInterval: "PT4M59S" },
      },
      `hpc-batch:pool.autoScaleEvaluationInterval "PT4M59S" is invalid: ${INTERVAL}`,
    ],
    [
      "an interval above PT168H",
      {
        ...LOC,
        "hpc-batch:pool": { autoScaleFormula: "x = 1;", autoScaleEvaluationInterval: "PT169H" },
      },
      `hpc-batch:pool.autoScaleEvaluationInterval "PT169H" is invalid: ${INTERVAL}`,
    ],
    [
      "an interval in words",
      {
        ...LOC,
        "hpc-batch:pool": { autoScaleFormula: "x = 1;", autoScaleEvaluationInterval: "5 minutes" },
      },
      `hpc-batch:pool.autoScaleEvaluationInterval "5 minutes" is invalid: ${INTERVAL}`,
    ],
    [
      "an interval without a formula",
      { ...LOC, "hpc-batch:pool": { autoScaleEvaluationInterval: "PT5M" } },
      'hpc-batch:pool.autoScaleEvaluationInterval "PT5M" is invalid: needs autoScaleFormula: the evaluation interval only applies to an autoscaled pool',
    ],
    [
      "a formula over 8 KB",
      { ...LOC, "hpc-batch:pool": { autoScaleFormula: "a".repeat(8193) } },
      `hpc-batch:pool.autoScaleFormula "${"a".repeat(116)}... is invalid: must be a non-empty autoscale formula of at most 8 KB (8192 bytes)`,
    ],
    [
      "a blank formula",
      { ...LOC, "hpc-batch:pool": { autoScaleFormula: "  " } },
      'hpc-batch:pool.autoScaleFormula "  " is invalid: must be a non-empty autoscale formula of at most 8 KB (8192 bytes)',
    ],
    [
      "zero task slots",
      { ...LOC, "hpc-batch:pool": { taskSlotsPerNode: 0 } },
      "hpc-batch:pool.taskSlotsPerNode 0 is invalid: must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)",
    ],
    [
      "257 task slots",
      { ...LOC, "hpc-batch:pool": { taskSlotsPerNode: 257 } },
      "hpc-batch:pool.taskSlotsPerNode 257 is invalid: must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)",
    ],
    [
      "fractional task slots",
      { ...LOC, "hpc-batch:pool": { taskSlotsPerNode: 1.5 } },
      "hpc-batch:pool.taskSlotsPerNode 1.5 is invalid: must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)",
    ],
    [
      "a VM size without Standard_",
      { ...LOC, "hpc-batch:pool": { vmSize: "D2s_v5" } },
      `hpc-batch:pool.vmSize "D2s_v5" is invalid: must be an Azure VM size such as "Standard_D2s_v5" ('Standard_' then letters, digits and '_')`,
    ],
    [
      "the retired Ubuntu 20.04 node agent",
      { ...LOC, "hpc-batch:pool": { nodeAgentSkuId: "batch.node.ubuntu 20.04" } },
      'hpc-batch:pool.nodeAgentSkuId "batch.node.ubuntu 20.04" is invalid: the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"',
    ],
    [
      "the retired Ubuntu 18.04 node agent",
      { ...LOC, "hpc-batch:pool": { nodeAgentSkuId: "batch.node.ubuntu 18.04" } },
      'hpc-batch:pool.nodeAgentSkuId "batch.node.ubuntu 18.04" is invalid: the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"',
    ],
    [
      "the retired CentOS 7 node agent (the policy pack's list)",
      { ...LOC, "hpc-batch:pool": { nodeAgentSkuId: "batch.node.centos 7" } },
      'hpc-batch:pool.nodeAgentSkuId "batch.node.centos 7" is invalid: the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"',
    ],
    [
      "the retired Debian 10 node agent, spelled with extra spaces",
      { ...LOC, "hpc-batch:pool": { nodeAgentSkuId: "batch.node.debian  10" } },
      'hpc-batch:pool.nodeAgentSkuId "batch.node.debian  10" is invalid: the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"',
    ],
    [
      "a node agent that is not one",
      { ...LOC, "hpc-batch:pool": { nodeAgentSkuId: "ubuntu 24.04" } },
      'hpc-batch:pool.nodeAgentSkuId "ubuntu 24.04" is invalid: must be a Batch node agent SKU id such as "batch.node.ubuntu 24.04"',
    ],
    [
      "the retired Ubuntu 20.04 image",
      {
        ...LOC,
        "hpc-batch:pool": {
          image: {
            publisher: "Canonical",
            offer: "0001-com-ubuntu-server-focal",
            sku: "20_04-lts-gen2",
            version: "latest",
          },
        },
      },
      'hpc-batch:pool.image {"publisher":"Canonical","offer":"0001-com-ubuntu-server-focal","sku":"20_04-lts-gen2","version":"latest"} is invalid: Ubuntu 18.04 and 20.04 images are retired; use canonical/ubuntu-24_04-lts/server/latest',
    ],
    [
      "the retired Ubuntu 18.04 image (the classic recipe's)",
      {
        ...LOC,
        "hpc-batch:pool": {
          image: {
            publisher: "Canonical",
            offer: "UbuntuServer",
            sku: "18.04-LTS",
            version: "latest",
          },
        },
      },
      'hpc-batch:pool.image {"publisher":"Canonical","offer":"UbuntuServer","sku":"18.04-LTS","version":"latest"} is invalid: Ubuntu 18.04 and 20.04 images are retired; use canonical/ubuntu-24_04-lts/server/latest',
    ],
    [
      "an image without a sku",
      {
        ...LOC,
        "hpc-batch:pool": {
          image: { publisher: "canonical", offer: "ubuntu-24_04-lts", version: "latest" },
        },
      },
      "hpc-batch:pool.image.sku (unset) is invalid: must be a non-empty string",
    ],
    [
      "an image as a string",
      { ...LOC, "hpc-batch:pool": { image: "ubuntu" } },
      'hpc-batch:pool.image "ubuntu" is invalid: must be an object with publisher, offer, sku and version, e.g. {publisher: canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}',
    ],
    [
      "an image with an unknown setting",
      {
        ...LOC,
        "hpc-batch:pool": {
          image: { ...UBUNTU_2404_IMAGE, plan: "x" },
        },
      },
      'hpc-batch:pool.image.plan "x" is invalid: is not a known image setting; known: publisher, offer, sku, version',
    ],
    [
      "an image and a custom image together",
      {
        ...LOC,
        "hpc-batch:pool": {
          image: UBUNTU_2404_IMAGE,
          customImageId: GALLERY,
        },
      },
      `hpc-batch:pool.customImageId "${GALLERY.slice(0, 116)}... is invalid: only one of [image] and [customImageId] can be specified`,
    ],
    [
      "a custom image that is not a gallery image",
      {
        ...LOC,
        "hpc-batch:pool": {
          customImageId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/images/z",
        },
      },
      'hpc-batch:pool.customImageId "/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/images/z" is invalid: must be an Azure Compute Gallery image id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/galleries/<gallery>/images/<image>[/versions/<version>]',
    ],
    [
      "a start task without a command line",
      { ...LOC, "hpc-batch:pool": { startTask: { waitForSuccess: true } } },
      "hpc-batch:pool.startTask.commandLine (unset) is invalid: must be a non-empty command line (it is not run in a shell: wrap it in /bin/sh -c '...' to use one)",
    ],
    [
      "a start task with waitForSuccess as a word",
      {
        ...LOC,
        "hpc-batch:pool": { startTask: { commandLine: "hostname", waitForSuccess: "yes" } },
      },
      'hpc-batch:pool.startTask.waitForSuccess "yes" is invalid: must be true or false',
    ],
    [
      "a start task as a string",
      { ...LOC, "hpc-batch:pool": { startTask: "hostname" } },
      'hpc-batch:pool.startTask "hostname" is invalid: must be an object with a commandLine and optionally waitForSuccess and runElevated',
    ],
    [
      "tags that are not an object",
      { ...LOC, "hpc-batch:tags": "env=dev" },
      'hpc-batch:tags "env=dev" is invalid: must be an object (a YAML mapping under the key)',
    ],
    [
      "a tag value that is a number",
      { ...LOC, "hpc-batch:tags": { costCenter: 1234 } },
      "hpc-batch:tags.costCenter 1234 is invalid: must be a string of at most 256 characters",
    ],
    [
      "a reserved tag",
      { ...LOC, "hpc-batch:tags": { "Managed-By": "me" } },
      'hpc-batch:tags.Managed-By "me" is invalid: managed-by, pulumi-project and pulumi-stack are set by hpc-batch on every resource; choose another tag name',
    ],
    [
      "a tag name with a slash",
      { ...LOC, "hpc-batch:tags": { "team/owner": "hpc" } },
      'hpc-batch:tags "team/owner" is invalid: tag names must be 1 to 128 characters, none of < > % & \\ ? /',
    ],
    [
      "public network access in lower case",
      { ...LOC, "hpc-batch:publicNetworkAccess": "enabled" },
      'hpc-batch:publicNetworkAccess "enabled" is invalid: must be "Enabled" or "Disabled"',
    ],
    [
      "a deployer object id that is not a GUID",
      { ...LOC, "hpc-batch:deployerObjectId": "pipeline-sp" },
      'hpc-batch:deployerObjectId "pipeline-sp" is invalid: must be an Entra object id (a GUID)',
    ],
    [
      "a deployer principal type Azure does not know",
      { ...LOC, "hpc-batch:deployerPrincipalType": "Application" },
      'hpc-batch:deployerPrincipalType "Application" is invalid: must be "User", "Group" or "ServicePrincipal", the kind of the principal (Azure refuses a role assignment whose principal type does not match)',
    ],
    [
      "an application id with a dot",
      { ...LOC, "hpc-batch:batchApplicationId": "ff.mpeg" },
      `hpc-batch:batchApplicationId "ff.mpeg" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
    ],
    [
      "an empty application id",
      { ...LOC, "hpc-batch:batchApplicationId": "" },
      `hpc-batch:batchApplicationId "" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
    ],
    [
      "a version with build metadata",
      { ...LOC, "hpc-batch:batchApplicationVersion": "1.0.0+5" },
      `hpc-batch:batchApplicationVersion "1.0.0+5" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)`,
    ],
    [
      "a blank display name",
      { ...LOC, "hpc-batch:batchAccountApplicationName": " " },
      'hpc-batch:batchAccountApplicationName " " is invalid: must be a display name of 1 to 1024 characters',
    ],
    [
      "an empty application folder",
      { ...LOC, "hpc-batch:applicationFolder": "" },
      'hpc-batch:applicationFolder "" is invalid: must be a non-empty path to the folder that becomes the package',
    ],
    [
      "retainVersions 0",
      { ...LOC, "hpc-batch:retainVersions": "0" },
      'hpc-batch:retainVersions "0" is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)',
    ],
    [
      "retainVersions 41",
      { ...LOC, "hpc-batch:retainVersions": 41 },
      "hpc-batch:retainVersions 41 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
    ],
    [
      "retainVersions as a word",
      { ...LOC, "hpc-batch:retainVersions": "five" },
      'hpc-batch:retainVersions "five" is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)',
    ],
  ])("%s", (_label, raw, message) => {
    const parse = () => parseStackConfig(raw);
    expect(parse).toThrow(InputError);
    expect(parse).not.toThrow(InputErrors);
    expect(parse).toThrow(new Error(message));
  });

  test("more than 47 tags", () => {
    const tags = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`t${i}`, "v"]));
    const parse = () => parseStackConfig({ ...LOC, "hpc-batch:tags": tags });
    expect(parse).toThrow(
      new Error(
        `hpc-batch:tags ${JSON.stringify(tags).slice(0, 117)}... is invalid: must have at most 47 tags (Azure allows 50 per resource and hpc-batch sets 3)`,
      ),
    );
  });
});

test("hpc-batch:promote takes on-publish or after-canary only", () => {
  expect(
    parseStackConfig({ ...LOC, "hpc-batch:promote": "after-canary" }).application.promote,
  ).toBe("after-canary");
  expect(() => parseStackConfig({ ...LOC, "hpc-batch:promote": "canary" })).toThrow(
    'hpc-batch:promote "canary" is invalid: must be "on-publish" (the version becomes the default ' +
      'once active) or "after-canary" (after the first release, `hpc-batch verify --promote` makes ' +
      "it the default once a smoke task that references it has passed on the pool)",
  );
});

describe("several invalid values", () => {
  test("are all reported, one line each, in one InputErrors", () => {
    const raw = {
      "hpc-batch:batchAccountName": "Batch_1",
      "hpc-batch:pool": { dedicatedNodes: "two", autoScaleFormula: "x = 1;", vmsize: "big" },
      "hpc-batch:retainVersions": 0,
      "hpc-batch:extra": true,
    };
    let caught: unknown;
    try {
      parseStackConfig(raw);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputErrors);
    expect(caught).toBeInstanceOf(InputError);
    const err = caught as InputErrors;
    expect(err.message.split("\n")).toEqual([
      `hpc-batch:extra true is invalid: is not a known hpc-batch setting; known keys: ${KNOWN_KEYS}`,
      'azure-native:location (unset) is invalid: must be set to an Azure region name such as "westeurope" (lowercase letters and digits)',
      'hpc-batch:batchAccountName "Batch_1" is invalid: must be 3 to 24 lowercase letters and digits',
      `hpc-batch:pool.vmsize "big" is invalid: is not a known pool setting (did you mean vmSize?); known: ${POOL_KEYS}`,
      'hpc-batch:pool.dedicatedNodes "two" is invalid: must be a whole number, 0 or more',
      `hpc-batch:pool.autoScaleFormula "x = 1;" is invalid: ${SCALE}`,
      "hpc-batch:retainVersions 0 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
    ]);
    expect(err.errors.map((e) => e.field)).toEqual([
      "hpc-batch:extra",
      "azure-native:location",
      "hpc-batch:batchAccountName",
      "hpc-batch:pool.vmsize",
      "hpc-batch:pool.dedicatedNodes",
      "hpc-batch:pool.autoScaleFormula",
      "hpc-batch:retainVersions",
    ]);
    // The aggregate's own field/value/rule are its first error's.
    expect([err.field, err.value]).toEqual(["hpc-batch:extra", true]);
  });
});

describe("helpers", () => {
  test("throwIfAny: nothing, the error itself, or an aggregate", () => {
    const a = new InputError("a", 1, "must be a");
    const b = new InputError("b", 2, "must be b");
    expect(() => throwIfAny([])).not.toThrow();
    expect(() => throwIfAny([a])).toThrow(a);
    expect(() => throwIfAny([a, b])).toThrow(
      new Error("a 1 is invalid: must be a\nb 2 is invalid: must be b"),
    );
    expect(() => new InputErrors([])).toThrow("InputErrors needs at least one error");
  });

  test.each([
    ["PT5M", 300],
    ["PT1H30M", 5400],
    ["P1DT1S", 86401],
    ["PT0.5S", 0.5],
    ["P", undefined],
    ["PT", undefined],
    ["P1DT", undefined],
    ["5M", undefined],
    ["pt5m", undefined],
  ])("isoDurationSeconds(%p) is %p", (text, seconds) => {
    expect(isoDurationSeconds(text)).toBe(seconds);
  });

  test("isKnownValue: Outputs and Promises are not known yet, plain values are", () => {
    expect(isKnownValue({ __pulumiOutput: true })).toBe(false);
    expect(isKnownValue(Promise.resolve(1))).toBe(false);
    expect([1, "a", undefined, null, { a: 1 }, [1]].map(isKnownValue)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
  });

  test("checkPoolSpec checks only the presence of values that are not known yet", () => {
    const later = { __pulumiOutput: true };
    const isKnown = (v: unknown) => v !== later;
    expect(
      checkPoolSpec("p.", { dedicatedNodes: later, taskSlotsPerNode: later }, isKnown),
    ).toEqual([]);
    expect(
      checkPoolSpec("p.", { spotNodes: later, autoScaleFormula: later }, isKnown).map(
        (e) => e.message,
      ),
    ).toEqual([`p.autoScaleFormula "<computed>" is invalid: ${SCALE}`]);
    expect(
      checkPoolSpec(
        "p.",
        { image: { publisher: later, offer: "o", sku: "", version: "latest" } },
        isKnown,
      ).map((e) => e.message),
    ).toEqual(['p.image.sku "" is invalid: must be a non-empty string']);
  });

  test("baseTags", () => {
    expect(baseTags("hpc-batch", "dev")).toEqual({
      "managed-by": "hpc-batch",
      "pulumi-project": "hpc-batch",
      "pulumi-stack": "dev",
    });
  });

  test("InputErrors and throwIfAny are lib/core/errors' own, re-exported here", () => {
    expect(InputErrors).toBe(errors.InputErrors);
    expect(throwIfAny).toBe(errors.throwIfAny);
  });

  test.each(RETIRED_NODE_AGENTS.map((a) => [a]))(
    "%s, on the list the policy pack also uses, is refused",
    (agent) => {
      let message: string | undefined;
      try {
        parseStackConfig({ ...LOC, "hpc-batch:pool": { nodeAgentSkuId: agent } });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(
        `hpc-batch:pool.nodeAgentSkuId "${agent}" is invalid: ${RETIRED_NODE_AGENT_RULE}`,
      );
    },
  );
});

test("an Ubuntu 22.04 image with its own node agent is accepted (until Batch retires it)", () => {
  const pool = {
    image: { publisher: "canonical", offer: "ubuntu-22_04-lts", sku: "server", version: "latest" },
    nodeAgentSkuId: "batch.node.ubuntu 22.04",
  };
  expect(parseStackConfig({ ...LOC, "hpc-batch:pool": pool }).pool).toEqual(pool);
});

describe("messages a person can act on", () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("no error");
  };

  test.each<[string, Record<string, unknown>, string]>([
    [
      "a misspelt key",
      { "hpc-batch:applicationFoldr": "app" },
      `hpc-batch:applicationFoldr "app" is invalid: is not a known hpc-batch setting (did you mean hpc-batch:applicationFolder?); known keys: ${KNOWN_KEYS}`,
    ],
    [
      "a key in the wrong case",
      { "hpc-batch:retainversions": 3 },
      `hpc-batch:retainversions 3 is invalid: is not a known hpc-batch setting (did you mean hpc-batch:retainVersions?); known keys: ${KNOWN_KEYS}`,
    ],
    [
      "ARM's name for a pool setting",
      { "hpc-batch:pool": { targetDedicatedNodes: 2 } },
      `hpc-batch:pool.targetDedicatedNodes 2 is invalid: is not a known pool setting (did you mean dedicatedNodes?); known: ${POOL_KEYS}`,
    ],
    [
      "ARM's name for Spot nodes",
      { "hpc-batch:pool": { targetLowPriorityNodes: 2 } },
      `hpc-batch:pool.targetLowPriorityNodes 2 is invalid: is not a known pool setting (did you mean spotNodes?); known: ${POOL_KEYS}`,
    ],
    [
      "a misspelt image setting",
      {
        "hpc-batch:pool": {
          image: { publisher: "canonical", offer: "o", skus: "s", version: "v" },
        },
      },
      'hpc-batch:pool.image.skus "s" is invalid: is not a known image setting (did you mean sku?); known: publisher, offer, sku, version\n' +
        "hpc-batch:pool.image.sku (unset) is invalid: must be a non-empty string",
    ],
    [
      "a key like none: no guess",
      { "hpc-batch:storageAccountKey": "x" },
      `hpc-batch:storageAccountKey "x" is invalid: is not a known hpc-batch setting; known keys: ${KNOWN_KEYS}`,
    ],
  ])("unknown keys: %s", (_what, config, expected) => {
    expect(message(() => parseStackConfig({ ...LOC, ...config }))).toBe(expected);
  });

  test.each<[string, string | undefined]>([
    ["applicationFoldr", "applicationFolder"],
    ["vmsize", "vmSize"],
    ["targetDedicatedNodes", "dedicatedNodes"],
    ["poolSize", undefined], // 4 edits from "pool": too far for a 8-letter key
  ])("closestKey(%j) is %j", (key, expected) => {
    expect(closestKey(key, [...CONFIG_KEYS, "vmSize", "dedicatedNodes"])).toBe(expected);
  });

  test("a secure: value never shows what stands in for it", () => {
    const raw = {
      ...LOC,
      "hpc-batch:batchAccountName": "plan-stand-in-secret-value",
      "hpc-batch:pool": "plan-stand-in-secret-value",
      "hpc-batch:tags": { team: 7 },
    };
    const secretKeys = ["hpc-batch:batchAccountName", "hpc-batch:pool"];
    const text = message(() => parseStackConfig(raw, { secretKeys }));
    expect(text.split("\n")).toEqual([
      "hpc-batch:batchAccountName [secret] is invalid: must be 3 to 24 lowercase letters and digits",
      "hpc-batch:pool [secret] is invalid: must be an object (a YAML mapping under the key)",
      "hpc-batch:tags.team 7 is invalid: must be a string of at most 256 characters",
    ]);
    expect(text).not.toContain("plan-stand-in");
    // One secret problem alone is an InputError of its own, value hidden too.
    const one = message(() =>
      parseStackConfig(
        { ...LOC, "hpc-batch:batchAccountName": "plan-stand-in-secret-value" },
        { secretKeys },
      ),
    );
    expect(one).toBe(
      "hpc-batch:batchAccountName [secret] is invalid: must be 3 to 24 lowercase letters and digits",
    );
  });

  test.each<[string, Record<string, unknown>, string | undefined]>([
    ["config:", { config: {}, encryptionsalt: "v1:abc" }, undefined],
    [
      "configs: instead of config:",
      { configs: { "hpc-batch:pool": {} } },
      'Pulumi.dev.yaml "configs" is invalid: is not a known top-level key of a stack file (did you mean config?); known: config, encryptedkey, encryptionsalt, environment, secretsprovider',
    ],
    [
      "a key like none",
      { region: "westeurope" },
      'Pulumi.dev.yaml "region" is invalid: is not a known top-level key of a stack file; known: config, encryptedkey, encryptionsalt, environment, secretsprovider',
    ],
  ])("stack file top-level keys: %s", (_what, doc, expected) => {
    const check = () => checkStackFileKeys(doc, "Pulumi.dev.yaml");
    if (expected === undefined) expect(check).not.toThrow();
    else expect(message(check)).toBe(expected);
  });
});
