/**
 * Hostile and mistaken input, one row per case, at every entry point: the stack config
 * (`parseStackConfig`), component args (constructed under the simulated engine), each `hpc-batch`
 * command and its flags (`runCli`), and the package folder and zips those commands read.
 *
 * Every row states the input and the exact message, `<field> <value> is invalid: <rule>`. Every
 * row also proves the refusal came first: components registered nothing; commands exit 2, print
 * nothing on stdout, leave the sandbox they run in (their working directory and TMPDIR) exactly
 * as it was (no zip, no plan files, no node folder), and the HTTPS stand-in standing for Azure
 * received no request. No message carries anything that looks like a credential.
 *
 * The rule texts are written out here, not imported, so a changed rule fails this file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { ApplicationPackage, BatchAccount, BatchPool, StorageAccount } from "../components";
import { parseStackConfig } from "../lib/core/config";
import { findSecrets } from "../lib/core/secretScan";
import { runCli, simulate } from "./helpers";
import { startStandIn, type StandIn } from "../standins/httpsStandIn";
import { craftZip } from "./support/craftZip";
import { UBUNTU_2404_IMAGE } from "./support/expectedPool";

// ---------------------------------------------------------------------------------------------
// Rules, as the messages spell them

const RG_RULE =
  "must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'";
const ACCOUNT_RULE = "must be 3 to 24 lowercase letters and digits";
const ID_RULE = "must be 1 to 64 letters, digits, '-' or '_'";
const VERSION_RULE =
  "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)";
const SCALE_RULE =
  "only one of [dedicatedNodes, spotNodes] and [autoScaleFormula, autoScaleEvaluationInterval] can be specified: a pool has either a fixed scale or an autoscale formula";
const INTERVAL_RULE = 'must be an ISO 8601 duration from PT5M to PT168H, e.g. "PT5M" or "PT1H"';
const SLOTS_RULE =
  "must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)";
const RETIRED_AGENT_RULE =
  'the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"';
const AGENT_RULE = 'must be a Batch node agent SKU id such as "batch.node.ubuntu 24.04"';
const RETIRED_IMAGE_RULE =
  "Ubuntu 18.04 and 20.04 images are retired; use canonical/ubuntu-24_04-lts/server/latest";
const OBJECT_RULE = "must be an object (a YAML mapping under the key)";
const KNOWN_KEYS =
  "hpc-batch:applicationFolder, hpc-batch:applicationStorageAccountName, hpc-batch:batchAccountApplicationName, hpc-batch:batchAccountName, hpc-batch:batchAccountPoolName, hpc-batch:batchApplicationId, hpc-batch:batchApplicationVersion, hpc-batch:deployerObjectId, hpc-batch:deployerPrincipalType, hpc-batch:pool, hpc-batch:promote, hpc-batch:publicNetworkAccess, hpc-batch:resourceGroupName, hpc-batch:retainVersions, hpc-batch:tags";
const KNOWN_POOL_KEYS =
  "vmSize, dedicatedNodes, spotNodes, autoScaleFormula, autoScaleEvaluationInterval, taskSlotsPerNode, image, customImageId, nodeAgentSkuId, startTask";
const FORMULA = "$TargetLowPriorityNodes = min(4, $PendingTasks.GetSample(1));";

const V65 = `1.${"0".repeat(63)}`; // 65 characters
const ID65 = "a".repeat(65);
const GUID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const SUB = `/subscriptions/${GUID}`;
const STORAGE_ID = `${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sthpc01`;

// ---------------------------------------------------------------------------------------------
// 1. Stack config: parseStackConfig, the only door config comes in by (index.ts and plan)

const LOC = { "azure-native:location": "westeurope" };

test.each<[string, Record<string, unknown>, string]>([
  // names
  [
    "resource group name with '/'",
    { "hpc-batch:resourceGroupName": "rg/prod" },
    `hpc-batch:resourceGroupName "rg/prod" is invalid: ${RG_RULE}`,
  ],
  [
    "resource group name ending with '.'",
    { "hpc-batch:resourceGroupName": "rg-hpc." },
    `hpc-batch:resourceGroupName "rg-hpc." is invalid: ${RG_RULE}`,
  ],
  [
    "resource group name of 91 characters",
    { "hpc-batch:resourceGroupName": "r".repeat(91) },
    `hpc-batch:resourceGroupName "${"r".repeat(91)}" is invalid: ${RG_RULE}`,
  ],
  [
    "storage account name with capitals and '_'",
    { "hpc-batch:applicationStorageAccountName": "St_Hpc" },
    `hpc-batch:applicationStorageAccountName "St_Hpc" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "storage account name of 25 characters",
    { "hpc-batch:applicationStorageAccountName": "s".repeat(25) },
    `hpc-batch:applicationStorageAccountName "${"s".repeat(25)}" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "storage account name of 2 characters",
    { "hpc-batch:applicationStorageAccountName": "st" },
    `hpc-batch:applicationStorageAccountName "st" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "Batch account name with '-'",
    { "hpc-batch:batchAccountName": "ba-hpc" },
    `hpc-batch:batchAccountName "ba-hpc" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "Batch account name of 25 characters",
    { "hpc-batch:batchAccountName": "b".repeat(25) },
    `hpc-batch:batchAccountName "${"b".repeat(25)}" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "pool name with a space",
    { "hpc-batch:batchAccountPoolName": "hpc pool" },
    `hpc-batch:batchAccountPoolName "hpc pool" is invalid: ${ID_RULE}`,
  ],
  [
    "pool name of 65 characters",
    { "hpc-batch:batchAccountPoolName": ID65 },
    `hpc-batch:batchAccountPoolName "${ID65}" is invalid: ${ID_RULE}`,
  ],
  [
    "application id with '.'",
    { "hpc-batch:batchApplicationId": "ff.mpeg" },
    `hpc-batch:batchApplicationId "ff.mpeg" is invalid: ${ID_RULE}`,
  ],
  [
    "application id of 65 characters",
    { "hpc-batch:batchApplicationId": ID65 },
    `hpc-batch:batchApplicationId "${ID65}" is invalid: ${ID_RULE}`,
  ],
  [
    "version with semver build metadata ('+')",
    { "hpc-batch:batchApplicationVersion": "1.2.0+sha.5114f85" },
    `hpc-batch:batchApplicationVersion "1.2.0+sha.5114f85" is invalid: ${VERSION_RULE}`,
  ],
  [
    "version of 65 characters",
    { "hpc-batch:batchApplicationVersion": V65 },
    `hpc-batch:batchApplicationVersion "${V65}" is invalid: ${VERSION_RULE}`,
  ],
  // pool
  [
    "fixed scale and autoscale together",
    { "hpc-batch:pool": { dedicatedNodes: 2, autoScaleFormula: FORMULA } },
    `hpc-batch:pool.autoScaleFormula "${FORMULA}" is invalid: ${SCALE_RULE}`,
  ],
  [
    "Spot nodes and autoscale together",
    { "hpc-batch:pool": { spotNodes: 0, autoScaleFormula: FORMULA } },
    `hpc-batch:pool.autoScaleFormula "${FORMULA}" is invalid: ${SCALE_RULE}`,
  ],
  [
    "autoscale interval below PT5M",
    { "hpc-batch:pool": { autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT4M59S" } },
    `hpc-batch:pool.autoScaleEvaluationInterval "PT4M59S" is invalid: ${INTERVAL_RULE}`,
  ],
  [
    "autoscale interval above PT168H",
    { "hpc-batch:pool": { autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "P8D" } },
    `hpc-batch:pool.autoScaleEvaluationInterval "P8D" is invalid: ${INTERVAL_RULE}`,
  ],
  [
    "autoscale interval that is not a duration",
    { "hpc-batch:pool": { autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "5m" } },
    `hpc-batch:pool.autoScaleEvaluationInterval "5m" is invalid: ${INTERVAL_RULE}`,
  ],
  [
    "autoscale interval without a formula",
    { "hpc-batch:pool": { autoScaleEvaluationInterval: "PT5M" } },
    'hpc-batch:pool.autoScaleEvaluationInterval "PT5M" is invalid: needs autoScaleFormula: the evaluation interval only applies to an autoscaled pool',
  ],
  [
    "autoscale formula over 8 KB",
    { "hpc-batch:pool": { autoScaleFormula: "x".repeat(8193) } },
    `hpc-batch:pool.autoScaleFormula "${"x".repeat(116)}... is invalid: must be a non-empty autoscale formula of at most 8 KB (8192 bytes)`,
  ],
  [
    "task slots 0",
    { "hpc-batch:pool": { taskSlotsPerNode: 0 } },
    `hpc-batch:pool.taskSlotsPerNode 0 is invalid: ${SLOTS_RULE}`,
  ],
  [
    "task slots 257",
    { "hpc-batch:pool": { taskSlotsPerNode: 257 } },
    `hpc-batch:pool.taskSlotsPerNode 257 is invalid: ${SLOTS_RULE}`,
  ],
  [
    "retired node agent (Ubuntu 20.04)",
    { "hpc-batch:pool": { nodeAgentSkuId: "batch.node.ubuntu 20.04" } },
    `hpc-batch:pool.nodeAgentSkuId "batch.node.ubuntu 20.04" is invalid: ${RETIRED_AGENT_RULE}`,
  ],
  [
    "retired node agent (CentOS 7)",
    { "hpc-batch:pool": { nodeAgentSkuId: "batch.node.centos 7" } },
    `hpc-batch:pool.nodeAgentSkuId "batch.node.centos 7" is invalid: ${RETIRED_AGENT_RULE}`,
  ],
  [
    "unknown node agent (no batch.node. prefix)",
    { "hpc-batch:pool": { nodeAgentSkuId: "ubuntu 24.04" } },
    `hpc-batch:pool.nodeAgentSkuId "ubuntu 24.04" is invalid: ${AGENT_RULE}`,
  ],
  [
    "retired image (the classic recipe's Ubuntu 18.04)",
    {
      "hpc-batch:pool": {
        image: {
          publisher: "Canonical",
          offer: "UbuntuServer",
          sku: "18.04-LTS",
          version: "latest",
        },
      },
    },
    `hpc-batch:pool.image {"publisher":"Canonical","offer":"UbuntuServer","sku":"18.04-LTS","version":"latest"} is invalid: ${RETIRED_IMAGE_RULE}`,
  ],
  [
    "an Ubuntu 22.04 image with the default (24.04) node agent",
    {
      "hpc-batch:pool": {
        image: {
          publisher: "canonical",
          offer: "ubuntu-22_04-lts",
          sku: "server",
          version: "latest",
        },
      },
    },
    'hpc-batch:pool.nodeAgentSkuId (unset) is invalid: must match the image: Ubuntu 22.04 runs with node agent "batch.node.ubuntu 22.04", not the default "batch.node.ubuntu 24.04"',
  ],
  [
    "a jammy image with the 24.04 node agent",
    {
      "hpc-batch:pool": {
        image: {
          publisher: "canonical",
          offer: "0001-com-ubuntu-server-jammy",
          sku: "22_04-lts",
          version: "latest",
        },
        nodeAgentSkuId: "batch.node.ubuntu 24.04",
      },
    },
    'hpc-batch:pool.nodeAgentSkuId "batch.node.ubuntu 24.04" is invalid: must match the image: Ubuntu 22.04 runs with node agent "batch.node.ubuntu 22.04", not "batch.node.ubuntu 24.04"',
  ],
  [
    "image and gallery image together",
    {
      "hpc-batch:pool": {
        image: UBUNTU_2404_IMAGE,
        customImageId:
          "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/hpc",
      },
    },
    'hpc-batch:pool.customImageId "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/hpc" is invalid: only one of [image] and [customImageId] can be specified',
  ],
  [
    "gallery image id that is a URL",
    { "hpc-batch:pool": { customImageId: "https://example.com/image.vhd" } },
    'hpc-batch:pool.customImageId "https://example.com/image.vhd" is invalid: must be an Azure Compute Gallery image id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/galleries/<gallery>/images/<image>[/versions/<version>]',
  ],
  // unknown keys
  [
    "unknown key (a key from the classic recipe)",
    { "hpc-batch:storageAccountKey": "x" },
    `hpc-batch:storageAccountKey "x" is invalid: is not a known hpc-batch setting; known keys: ${KNOWN_KEYS}`,
  ],
  [
    "a connection string under an unknown key is not echoed",
    {
      "hpc-batch:storageConnectionString": `DefaultEndpointsProtocol=https;AccountName=sthpc;AccountKey=${Buffer.alloc(64, 0x5a).toString("base64")}`,
    },
    `hpc-batch:storageConnectionString "DefaultEndpointsProtocol=https;AccountName=sthpc;AccountKey=[redacted account key]" is invalid: is not a known hpc-batch setting; known keys: ${KNOWN_KEYS}`,
  ],
  [
    "unknown pool key (wrong case)",
    { "hpc-batch:pool": { vmsize: "Standard_D2s_v5" } },
    `hpc-batch:pool.vmsize "Standard_D2s_v5" is invalid: is not a known pool setting (did you mean vmSize?); known: ${KNOWN_POOL_KEYS}`,
  ],
  [
    "unknown image key",
    {
      "hpc-batch:pool": {
        image: { ...UBUNTU_2404_IMAGE, plan: "x" },
      },
    },
    'hpc-batch:pool.image.plan "x" is invalid: is not a known image setting; known: publisher, offer, sku, version',
  ],
  [
    "unknown start task key",
    { "hpc-batch:pool": { startTask: { commandLine: "/bin/true", elevated: true } } },
    "hpc-batch:pool.startTask.elevated true is invalid: is not a known startTask setting; known: commandLine, waitForSuccess, runElevated",
  ],
  // wrong types
  ["pool as text", { "hpc-batch:pool": "big" }, `hpc-batch:pool "big" is invalid: ${OBJECT_RULE}`],
  [
    "pool as a list",
    { "hpc-batch:pool": [1, 2] },
    `hpc-batch:pool [1,2] is invalid: ${OBJECT_RULE}`,
  ],
  [
    "node count as text",
    { "hpc-batch:pool": { dedicatedNodes: "2" } },
    'hpc-batch:pool.dedicatedNodes "2" is invalid: must be a whole number, 0 or more',
  ],
  [
    "task slots as text",
    { "hpc-batch:pool": { taskSlotsPerNode: "4" } },
    `hpc-batch:pool.taskSlotsPerNode "4" is invalid: ${SLOTS_RULE}`,
  ],
  [
    "image as text",
    { "hpc-batch:pool": { image: "ubuntu" } },
    'hpc-batch:pool.image "ubuntu" is invalid: must be an object with publisher, offer, sku and version, e.g. {publisher: canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}',
  ],
  [
    "image sku as a number",
    {
      "hpc-batch:pool": {
        image: { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: 24, version: "latest" },
      },
    },
    "hpc-batch:pool.image.sku 24 is invalid: must be a non-empty string",
  ],
  [
    "start task flag as text",
    { "hpc-batch:pool": { startTask: { commandLine: "/bin/true", waitForSuccess: "yes" } } },
    'hpc-batch:pool.startTask.waitForSuccess "yes" is invalid: must be true or false',
  ],
  [
    "tags as a list",
    { "hpc-batch:tags": ["a"] },
    `hpc-batch:tags ["a"] is invalid: ${OBJECT_RULE}`,
  ],
  [
    "tag value as a number",
    { "hpc-batch:tags": { owner: 42 } },
    "hpc-batch:tags.owner 42 is invalid: must be a string of at most 256 characters",
  ],
  [
    "retained versions as a word",
    { "hpc-batch:retainVersions": "five" },
    'hpc-batch:retainVersions "five" is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)',
  ],
  [
    "public network access as a boolean",
    { "hpc-batch:publicNetworkAccess": true },
    'hpc-batch:publicNetworkAccess true is invalid: must be "Enabled" or "Disabled"',
  ],
  [
    "application id as a number",
    { "hpc-batch:batchApplicationId": 42 },
    `hpc-batch:batchApplicationId 42 is invalid: ${ID_RULE}`,
  ],
])("stack config: %s", (_what, config, message) => {
  expect(errorOf(() => parseStackConfig({ ...LOC, ...config }))).toBe(message);
  expect(findSecrets(message)).toEqual([]);
});

function errorOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 2. Component args, constructed under the simulated engine: refused before anything registers

const sim = simulate({ project: "hpc-batch", stack: "dev" });

const COMPONENTS = {
  StorageAccount: (args: object) =>
    new StorageAccount("app-storage", { resourceGroupName: "rg", accountName: "sthpc01", ...args }),
  BatchAccount: (args: object) =>
    new BatchAccount("batch", {
      resourceGroupName: "rg",
      accountName: "bahpc01",
      storageAccountId: STORAGE_ID,
      ...args,
    }),
  BatchPool: (args: object) =>
    new BatchPool("pool", {
      resourceGroupName: "rg",
      accountName: "bahpc01",
      poolName: "hpc-pool",
      identityId: `${SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-bahpc01`,
      ...args,
    }),
  ApplicationPackage: (args: object) =>
    new ApplicationPackage("app", {
      subscriptionId: GUID,
      resourceGroupName: "rg",
      accountName: "bahpc01",
      applicationId: "ffmpeg",
      version: "1.2.0",
      package: { path: "/tmp/ffmpeg-1.2.0.zip", sha256: "a".repeat(64), bytes: 1024 },
      ...args,
    }),
};

test.each<[keyof typeof COMPONENTS, Record<string, unknown>, string]>([
  [
    "StorageAccount",
    { accountName: "St_Hpc" },
    `StorageAccount(app-storage).accountName "St_Hpc" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "StorageAccount",
    { accountName: "s".repeat(25) },
    `StorageAccount(app-storage).accountName "${"s".repeat(25)}" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "StorageAccount",
    { skuName: "Premium_LRS" },
    'StorageAccount(app-storage).skuName "Premium_LRS" is invalid: must be one of Standard_LRS, Standard_ZRS, Standard_GRS, Standard_RAGRS, Standard_GZRS, Standard_RAGZRS',
  ],
  [
    "StorageAccount",
    { softDeleteRetentionDays: 366 },
    "StorageAccount(app-storage).softDeleteRetentionDays 366 is invalid: must be a whole number from 1 to 365",
  ],
  [
    "BatchAccount",
    { accountName: "Batch01" },
    `BatchAccount(batch).accountName "Batch01" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "BatchAccount",
    { accountName: "b".repeat(25) },
    `BatchAccount(batch).accountName "${"b".repeat(25)}" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "BatchAccount",
    { storageAccountId: `${SUB}/resourceGroups/rg` },
    `BatchAccount(batch).storageAccountId "${SUB}/resourceGroups/rg" is invalid: must be a storage account resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>`,
  ],
  [
    "BatchAccount",
    { publicNetworkAccess: "Open" },
    'BatchAccount(batch).publicNetworkAccess "Open" is invalid: must be "Enabled" or "Disabled"',
  ],
  ["BatchPool", { poolName: ID65 }, `BatchPool(pool).poolName "${ID65}" is invalid: ${ID_RULE}`],
  [
    "BatchPool",
    { dedicatedNodes: 1, autoScaleFormula: FORMULA },
    `BatchPool(pool).autoScaleFormula "${FORMULA}" is invalid: ${SCALE_RULE}`,
  ],
  [
    "BatchPool",
    { autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT1M" },
    `BatchPool(pool).autoScaleEvaluationInterval "PT1M" is invalid: ${INTERVAL_RULE}`,
  ],
  [
    "BatchPool",
    { taskSlotsPerNode: 300 },
    `BatchPool(pool).taskSlotsPerNode 300 is invalid: ${SLOTS_RULE}`,
  ],
  [
    "BatchPool",
    { nodeAgentSkuId: "batch.node.debian 10" },
    `BatchPool(pool).nodeAgentSkuId "batch.node.debian 10" is invalid: ${RETIRED_AGENT_RULE}`,
  ],
  [
    "BatchPool",
    { applicationPackages: Array.from({ length: 11 }, (_, i) => ({ id: `app${i}` })) },
    `BatchPool(pool).applicationPackages [{"id":"app0"},{"id":"app1"},{"id":"app2"},{"id":"app3"},{"id":"app4"},{"id":"app5"},{"id":"app6"},{"id":"app7"},{"id... is invalid: must list at most 10 application packages`,
  ],
  [
    "ApplicationPackage",
    { applicationId: "ff mpeg" },
    `ApplicationPackage(app).applicationId "ff mpeg" is invalid: ${ID_RULE}`,
  ],
  [
    "ApplicationPackage",
    { version: "1.2.0+build.7" },
    `ApplicationPackage(app).version "1.2.0+build.7" is invalid: ${VERSION_RULE}`,
  ],
  [
    "ApplicationPackage",
    { version: V65 },
    `ApplicationPackage(app).version "${V65}" is invalid: ${VERSION_RULE}`,
  ],
  [
    "ApplicationPackage",
    { retainVersions: 41 },
    "ApplicationPackage(app).retainVersions 41 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
  ],
  [
    "ApplicationPackage",
    { armEndpoint: "http://management.azure.com" },
    'ApplicationPackage(app).armEndpoint "http://management.azure.com" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
  ],
])("component %s %j", (component, args, message) => {
  expect(errorOf(() => COMPONENTS[component](args))).toBe(message);
  expect(sim.registrations).toEqual([]);
  expect(findSecrets(message)).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// 3. Commands, their flags, the package folder and zips

/** Where the commands run: their working directory and TMPDIR. Fixtures live here too. */
const SANDBOX = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-hostile-")));
const TMP = path.join(SANDBOX, "tmp");
const at = (...parts: string[]) => path.join(SANDBOX, ...parts);
const ROOT = path.join(__dirname, "..");

const RUN_SH = { name: "bin/run.sh", data: Buffer.from("#!/bin/sh\necho ok\n"), mode: 0o100755 };
const ZIPS = {
  /** 20 MiB of zeros deflated to about 20 KB: a ratio near 1000. */
  bomb: craftZip([RUN_SH, { name: "bin/data", data: Buffer.alloc(20 << 20), method: 8 }]),
  /** One small file whose headers declare 4.1 GB. */
  oversized: craftZip([
    RUN_SH,
    { name: "bin/big", data: Buffer.from("x"), size: 4_100_000_000, method: 8 },
  ]),
  escaping: craftZip([RUN_SH, { name: "../evil.sh", data: Buffer.from("#!/bin/sh\n") }]),
  absolute: craftZip([
    RUN_SH,
    { name: "/etc/cron.d/evil", data: Buffer.from("* * * * * root id\n") },
  ]),
  symlink: craftZip([
    RUN_SH,
    { name: "bin/passwd", data: Buffer.from("/etc/passwd"), mode: 0o120777 },
  ]),
};
const ZIP = (kind: keyof typeof ZIPS) => at("zips", `${kind}.zip`);

/** Package folders: each holds `bin/run.sh` and one hostile entry. */
const FOLDERS: Record<string, (dir: string) => void> = {
  "escaping-symlink": (d) => fs.symlinkSync("/etc/passwd", path.join(d, "passwd")),
  "relative-escaping-symlink": (d) =>
    fs.symlinkSync("../../../outside.txt", path.join(d, "bin", "outside")),
  "dangling-symlink": (d) => fs.symlinkSync("missing.txt", path.join(d, "gone")),
  "looping-symlink": (d) => {
    fs.symlinkSync("b", path.join(d, "a"));
    fs.symlinkSync("a", path.join(d, "b"));
  },
  "directory-symlink": (d) => fs.symlinkSync("bin", path.join(d, "lib")),
  fifo: (d) => execFileSync("mkfifo", [path.join(d, "pipe")]),
  "backslash-name": (d) => fs.writeFileSync(path.join(d, "..\\evil.sh"), "#!/bin/sh\n"),
  "control-character-name": (d) => fs.writeFileSync(path.join(d, "bad\nname"), "x"),
};
const FOLDER = (kind: string) => at("folders", kind);

const TOKEN = "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.";
const SAS = "sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=c2lnbmF0dXJl";
let standIn: StandIn;
const savedEnv = { ...process.env };
const savedCwd = process.cwd();

beforeAll(async () => {
  fs.mkdirSync(TMP);
  fs.writeFileSync(at("outside.txt"), "secret\n");
  fs.mkdirSync(at("zips"));
  for (const [kind, bytes] of Object.entries(ZIPS))
    fs.writeFileSync(ZIP(kind as keyof typeof ZIPS), bytes);
  for (const [kind, make] of Object.entries(FOLDERS)) {
    fs.mkdirSync(path.join(FOLDER(kind), "bin"), { recursive: true });
    fs.writeFileSync(path.join(FOLDER(kind), "bin", "run.sh"), "#!/bin/sh\necho ok\n", {
      mode: 0o755,
    });
    make(FOLDER(kind));
  }
  fs.mkdirSync(FOLDER("empty"));
  // stage: a fake npm package, and a package folder whose bin/ is a symlink to a folder outside
  fs.mkdirSync(at("node_modules", "hpc-fake-tool"), { recursive: true });
  fs.writeFileSync(
    at("node_modules", "hpc-fake-tool", "package.json"),
    '{"name":"hpc-fake-tool","version":"1.0.0"}',
  );
  fs.writeFileSync(at("node_modules", "hpc-fake-tool", "tool"), "#!/bin/sh\n", { mode: 0o755 });
  fs.mkdirSync(at("elsewhere"));
  fs.mkdirSync(FOLDER("stage-through-symlink"), { recursive: true });
  fs.symlinkSync(at("elsewhere"), path.join(FOLDER("stage-through-symlink"), "bin"));
  fs.writeFileSync(
    path.join(FOLDER("stage-through-symlink"), "stage.json"),
    JSON.stringify({ files: [{ from: "hpc-fake-tool/tool", to: "bin/sub/tool" }] }),
  );
  // verify: outputs files no deployed stack would print
  fs.writeFileSync(
    at("outputs-http.json"),
    JSON.stringify(outputs({ batchAccountEndpoint: "http://bahpc01.westeurope.batch.azure.com" })),
  );
  fs.writeFileSync(
    at("outputs-names.json"),
    JSON.stringify(outputs({ subscriptionId: "not-a-guid", batchAccountName: "../x" })),
  );
  fs.writeFileSync(at("not-a-folder"), "x");
  fs.mkdirSync(FOLDER("good/bin"), { recursive: true });
  fs.writeFileSync(FOLDER("good/bin/run.sh"), "#!/bin/sh\necho ok\n", { mode: 0o755 });
  standIn = await startStandIn([]); // no route: any request is a violation
  process.env.AZURE_ACCESS_TOKEN = TOKEN; // never the developer's own login
  process.env.AZURE_BATCH_ACCESS_TOKEN = TOKEN;
  delete process.env.AZURE_STORAGE_ACCESS_TOKEN;
  process.env.TMPDIR = TMP;
  process.chdir(SANDBOX);
});

afterAll(async () => {
  process.chdir(savedCwd);
  process.env = { ...savedEnv };
  await standIn?.close();
  fs.rmSync(SANDBOX, { recursive: true, force: true });
});

/** Stack outputs as `pulumi stack output --json` prints them, with some changed. */
function outputs(over: Record<string, string> = {}) {
  return {
    subscriptionId: GUID,
    resourceGroupName: "rg-hpc-batch-dev",
    batchAccountName: "bahpc01",
    batchAccountEndpoint: "bahpc01.westeurope.batch.azure.com",
    poolName: "hpc-batch-dev-pool",
    applicationId: "ffmpeg",
    applicationVersion: "1.2.0",
    ...over,
  };
}

/** Every path under the sandbox with its type and size (symlinks not followed). */
function tree(dir = SANDBOX): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((e) => {
      const full = path.join(e.parentPath ?? e.path, e.name);
      const st = fs.lstatSync(full);
      return `${path.relative(SANDBOX, full)} ${st.isDirectory() ? "dir" : st.size}`;
    })
    .sort();
}

const ARM = "{arm}"; // replaced by the stand-in's URL
const PUBLISH = [
  "publish",
  "--subscription",
  GUID,
  "--resource-group",
  "rg-hpc",
  "--account",
  "bahpc01",
  "--application",
  "ffmpeg",
  "--version",
  "1.2.0",
  "--arm-endpoint",
  ARM,
];
/** The publish flags with one changed (`undefined` drops it) and `--zip` set. */
function publish(zip: string | undefined, over: Record<string, string | undefined> = {}) {
  const argv = [...PUBLISH];
  for (const [flag, value] of Object.entries(over)) {
    const i = argv.indexOf(flag);
    if (value === undefined) argv.splice(i, 2);
    else if (i >= 0) argv[i + 1] = value;
    else argv.push(flag, value);
  }
  return zip === undefined ? argv : [...argv, "--zip", zip];
}
const GOOD_ZIP = ZIP("escaping"); // a real zip file: the flag checks come first

test.each<[string, string[], string]>([
  // hpc-batch stage
  [
    "stage: missing package folder",
    ["stage", "--folder", "no-such-folder"],
    'hpc-batch stage: package folder "no-such-folder" is invalid: must be an existing directory',
  ],
  [
    "stage: --folder without its value",
    ["stage", "--folder"],
    "error: option '--folder <dir>' argument missing",
  ],
  ["stage: unknown flag", ["stage", "--force"], "error: unknown option '--force'"],
  // hpc-batch package: flags
  [
    "package: application id with a space",
    ["package", "--folder", FOLDER("good"), "--application-id", "ff mpeg", "--version", "1.0.0"],
    `hpc-batch package: --application-id "ff mpeg" is invalid: ${ID_RULE}`,
  ],
  [
    "package: application id of 65 characters",
    ["package", "--folder", FOLDER("good"), "--application-id", ID65, "--version", "1.0.0"],
    `hpc-batch package: --application-id "${ID65}" is invalid: ${ID_RULE}`,
  ],
  [
    "package: version with '+'",
    ["package", "--folder", FOLDER("good"), "--version", "1.0.0+build.7"],
    `hpc-batch package: --version "1.0.0+build.7" is invalid: ${VERSION_RULE}`,
  ],
  [
    "package: version of 65 characters",
    ["package", "--folder", FOLDER("good"), "--version", V65],
    `hpc-batch package: --version "${V65}" is invalid: ${VERSION_RULE}`,
  ],
  ["package: unknown flag", ["package", "--zip", "x.zip"], "error: unknown option '--zip'"],
  [
    "package: --out without its value",
    ["package", "--out"],
    "error: option '--out <dir>' argument missing",
  ],
  // hpc-batch package: the package folder
  [
    "package folder: missing",
    ["package", "--folder", "no-such-folder", "--version", "1.0.0"],
    'hpc-batch package: package folder "no-such-folder" is invalid: must be an existing directory',
  ],
  [
    "package folder: a file",
    ["package", "--folder", "not-a-folder", "--version", "1.0.0"],
    'hpc-batch package: package folder "not-a-folder" is invalid: must be a directory, not a file',
  ],
  [
    "package folder: empty",
    ["package", "--folder", FOLDER("empty"), "--version", "1.0.0"],
    `hpc-batch package: package folder "${FOLDER("empty")}" is invalid: must contain at least one file`,
  ],
  [
    "package folder: symlink to /etc/passwd",
    ["package", "--folder", FOLDER("escaping-symlink"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("escaping-symlink")}" "passwd" is invalid: must be a symlink to a file inside the folder (it points to "/etc/passwd", outside)`,
  ],
  [
    "package folder: relative symlink climbing out",
    ["package", "--folder", FOLDER("relative-escaping-symlink"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("relative-escaping-symlink")}" "bin/outside" is invalid: must be a symlink to a file inside the folder (it points to "../../../outside.txt", outside)`,
  ],
  [
    "package folder: dangling symlink",
    ["package", "--folder", FOLDER("dangling-symlink"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("dangling-symlink")}" "gone" is invalid: must be a symlink to a file inside the folder (it points to "missing.txt": it is dangling)`,
  ],
  [
    "package folder: symlink loop",
    ["package", "--folder", FOLDER("looping-symlink"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("looping-symlink")}" "a" is invalid: must be a symlink to a file inside the folder (it points to "b": it loops)`,
  ],
  [
    "package folder: symlink to a directory",
    ["package", "--folder", FOLDER("directory-symlink"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("directory-symlink")}" "lib" is invalid: must be a symlink to a file, not to a directory (it points to "bin"); copy the directory instead`,
  ],
  [
    "package folder: a fifo",
    ["package", "--folder", FOLDER("fifo"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("fifo")}" "pipe" is invalid: must be a regular file, a directory or a symlink to a file (it is a fifo)`,
  ],
  [
    "package folder: a name with '\\' (a path on Windows)",
    ["package", "--folder", FOLDER("backslash-name"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("backslash-name")}" "..\\\\evil.sh" is invalid: must not contain '\\' (a path separator on Windows, so the name could escape the extraction folder)`,
  ],
  [
    "package folder: a name with a newline",
    ["package", "--folder", FOLDER("control-character-name"), "--version", "1.0.0"],
    `hpc-batch package: path in package folder "${FOLDER("control-character-name")}" "bad\\nname" is invalid: must not contain control characters`,
  ],
  [
    "package: output folder inside the package folder",
    ["package", "--folder", FOLDER("good"), "--out", FOLDER("good/out"), "--version", "1.0.0"],
    `hpc-batch package: --out "${FOLDER("good/out")}" is invalid: must be outside the package folder "${FOLDER("good")}" (the zip would package itself)`,
  ],
  // hpc-batch publish: flags (the zip itself is fine)
  [
    "publish: missing --zip",
    publish(undefined),
    "hpc-batch publish: --zip (unset) is invalid: must be given (the package zip to publish, or --folder)",
  ],
  [
    "publish: --zip that is not a zip",
    publish(at("outside.txt")),
    `hpc-batch publish: --zip "${at("outside.txt")}" is invalid: must be a zip file (it does not start with a zip entry)`,
  ],
  [
    "publish: missing --subscription",
    publish(GOOD_ZIP, { "--subscription": undefined }),
    "hpc-batch publish: --subscription (unset) is invalid: must be given (the Azure subscription id)",
  ],
  [
    "publish: resource group of 91 characters",
    publish(GOOD_ZIP, { "--resource-group": "r".repeat(91) }),
    `hpc-batch publish: --resource-group "${"r".repeat(91)}" is invalid: ${RG_RULE}`,
  ],
  [
    "publish: Batch account with capitals",
    publish(GOOD_ZIP, { "--account": "BaHpc01" }),
    `hpc-batch publish: --account "BaHpc01" is invalid: ${ACCOUNT_RULE}`,
  ],
  [
    "publish: application id of 65 characters",
    publish(GOOD_ZIP, { "--application": ID65 }),
    `hpc-batch publish: --application "${ID65}" is invalid: ${ID_RULE}`,
  ],
  [
    "publish: version with '+'",
    publish(GOOD_ZIP, { "--version": "1.2.0+sha.5114f85" }),
    `hpc-batch publish: --version "1.2.0+sha.5114f85" is invalid: ${VERSION_RULE}`,
  ],
  [
    "publish: version of 65 characters",
    publish(GOOD_ZIP, { "--version": V65 }),
    `hpc-batch publish: --version "${V65}" is invalid: ${VERSION_RULE}`,
  ],
  [
    "publish: --retain 0",
    publish(GOOD_ZIP, { "--retain": "0" }),
    "hpc-batch publish: --retain 0 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
  ],
  [
    "publish: Resource Manager over plain HTTP",
    publish(GOOD_ZIP, { "--arm-endpoint": "http://management.azure.com" }),
    'hpc-batch publish: --arm-endpoint "http://management.azure.com" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
  ],
  ["publish: unknown flag", [...publish(GOOD_ZIP), "--force"], "error: unknown option '--force'"],
  // hpc-batch local-run: flags
  [
    "local-run: application id with '/'",
    ["local-run", "--application-id", "../ffmpeg"],
    `hpc-batch local-run: --application-id "../ffmpeg" is invalid: ${ID_RULE}`,
  ],
  [
    "local-run: version with '+'",
    ["local-run", "--version", "1.2.0+build.7"],
    `hpc-batch local-run: --version "1.2.0+build.7" is invalid: ${VERSION_RULE}`,
  ],
  [
    "local-run: --zip and --folder together",
    ["local-run", "--zip", ZIP("bomb"), "--folder", FOLDER("good")],
    `hpc-batch local-run: --zip "${ZIP("bomb")}" is invalid: cannot be combined with --folder`,
  ],
  [
    "local-run: --zip that does not exist",
    ["local-run", "--zip", at("zips", "missing.zip")],
    `hpc-batch local-run: --zip "${at("zips", "missing.zip")}" is invalid: must be an existing zip file`,
  ],
  ["local-run: unknown flag", ["local-run", "--shell"], "error: unknown option '--shell'"],
  // hpc-batch local-run: hostile zips (checked before anything is unpacked)
  [
    "local-run: zip bomb",
    ["local-run", "--zip", ZIP("bomb")],
    `hpc-batch local-run: --zip "${ZIP("bomb")}" is invalid: must not expand more than 100 times (limits.maxCompressionRatio); its ${ZIPS.bomb.length} bytes declare ${(20 << 20) + 18} (a zip bomb?)`,
  ],
  [
    "local-run: zip declaring 4.1 GB",
    ["local-run", "--zip", ZIP("oversized")],
    `hpc-batch local-run: --zip "${ZIP("oversized")}" is invalid: must hold at most 4000000000 bytes uncompressed (limits.maxTotalBytes); its entries declare 4100000018`,
  ],
  [
    "local-run: zip entry climbing out with '..'",
    ["local-run", "--zip", ZIP("escaping")],
    `hpc-batch local-run: path in zip "${ZIP("escaping")}" "../evil.sh" is invalid: must stay inside the extraction folder (it has a '..' segment)`,
  ],
  [
    "local-run: zip entry with an absolute path",
    ["local-run", "--zip", ZIP("absolute")],
    `hpc-batch local-run: path in zip "${ZIP("absolute")}" "/etc/cron.d/evil" is invalid: must be a relative path (it is absolute)`,
  ],
  [
    "local-run: zip entry that is a symlink",
    ["local-run", "--zip", ZIP("symlink")],
    `hpc-batch local-run: path in zip "${ZIP("symlink")}" "bin/passwd" is invalid: must not be a symlink (Batch's unpacking is not documented to keep them)`,
  ],
  // hostile zips through publish (checked before any request)
  [
    "publish: zip bomb",
    publish(ZIP("bomb")),
    `hpc-batch publish: --zip "${ZIP("bomb")}" is invalid: must not expand more than 100 times (limits.maxCompressionRatio); its ${ZIPS.bomb.length} bytes declare ${(20 << 20) + 18} (a zip bomb?)`,
  ],
  [
    "publish: zip declaring 4.1 GB",
    publish(ZIP("oversized")),
    `hpc-batch publish: --zip "${ZIP("oversized")}" is invalid: must hold at most 4000000000 bytes uncompressed (limits.maxTotalBytes); its entries declare 4100000018`,
  ],
  [
    "publish: zip entry climbing out with '..'",
    publish(ZIP("escaping")),
    `hpc-batch publish: path in zip "${ZIP("escaping")}" "../evil.sh" is invalid: must stay inside the extraction folder (it has a '..' segment)`,
  ],
  [
    "publish: zip entry with an absolute path",
    publish(ZIP("absolute")),
    `hpc-batch publish: path in zip "${ZIP("absolute")}" "/etc/cron.d/evil" is invalid: must be a relative path (it is absolute)`,
  ],
  [
    "publish: zip entry that is a symlink",
    publish(ZIP("symlink")),
    `hpc-batch publish: path in zip "${ZIP("symlink")}" "bin/passwd" is invalid: must not be a symlink (Batch's unpacking is not documented to keep them)`,
  ],
  // credentials pasted into flags are not echoed
  [
    "publish: a SAS pasted as the Resource Manager endpoint",
    publish(ZIP("bomb"), { "--arm-endpoint": `https://management.azure.com/?${SAS}` }),
    'hpc-batch publish: --arm-endpoint "https://management.azure.com/?[redacted shared access signature]" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
  ],
  [
    "publish: a SAS URL as --zip",
    publish(`https://sthpc.blob.core.windows.net/app/ffmpeg.zip?${SAS}`),
    'hpc-batch publish: --zip "https://sthpc.blob.core.windows.net/app/ffmpeg.zip?[redacted shared access signature]" is invalid: must be a readable file',
  ],
  [
    "publish: a token pasted as --subscription",
    publish(ZIP("bomb"), { "--subscription": TOKEN }),
    'hpc-batch publish: --subscription "[redacted bearer token]" is invalid: must be a subscription id (a GUID)',
  ],
  [
    "local-run: a SAS URL as --zip",
    ["local-run", "--zip", `https://sthpc.blob.core.windows.net/app/ffmpeg.zip?${SAS}`],
    'hpc-batch local-run: --zip "https://sthpc.blob.core.windows.net/app/ffmpeg.zip?[redacted shared access signature]" is invalid: must be an existing zip file',
  ],
  // stage and verify: what they read is input too
  [
    "stage: a symlinked directory on the way out of the folder (nothing created there)",
    ["stage", "--folder", FOLDER("stage-through-symlink")],
    `hpc-batch stage: ${FOLDER("stage-through-symlink")}/stage.json files[0].to "bin/sub/tool" is invalid: must lead to a path inside the package folder (a symlink on the way leads outside)`,
  ],
  [
    "verify: outputs sending the Batch token over plain HTTP",
    ["verify", "--stack", "dev", "--outputs", at("outputs-http.json"), "--arm-endpoint", ARM],
    `hpc-batch verify: --outputs ${at("outputs-http.json")} batchAccountEndpoint "http://bahpc01.westeurope.batch.azure.com" is invalid: must be the Batch account's endpoint, e.g. <account>.<region>.batch.azure.com, reached over https only (it receives a bearer token)`,
  ],
  [
    "verify: outputs with names no stack has",
    ["verify", "--stack", "dev", "--outputs", at("outputs-names.json"), "--arm-endpoint", ARM],
    `hpc-batch verify: --outputs ${at("outputs-names.json")} subscriptionId "not-a-guid" is invalid: must be a subscription id (a GUID)\n--outputs ${at("outputs-names.json")} batchAccountName "../x" is invalid: ${ACCOUNT_RULE}`,
  ],
  // hpc-batch plan
  [
    "plan: stack name climbing out of the project",
    ["plan", "--project", ROOT, "--stack", "../../etc/passwd", "--out-dir", "plan-out"],
    `hpc-batch plan: --stack "../../etc/passwd" is invalid: must name a stack with a Pulumi.../../etc/passwd.yaml in ${ROOT}`,
  ],
  [
    "plan: stack without a Pulumi.<stack>.yaml",
    ["plan", "--project", ROOT, "--stack", "prod", "--out-dir", "plan-out"],
    `hpc-batch plan: --stack "prod" is invalid: must name a stack with a Pulumi.prod.yaml in ${ROOT}`,
  ],
  [
    "plan: --stack without its value",
    ["plan", "--stack"],
    "error: option '--stack <name>' argument missing",
  ],
  ["plan: unknown flag", ["plan", "--policy-pack", "x"], "error: unknown option '--policy-pack'"],
  // hpc-batch verify
  ["verify: missing --stack", ["verify"], "error: required option '--stack <name>' not specified"],
  [
    "verify: --nodes 0",
    ["verify", "--stack", "dev", "--nodes", "0", "--arm-endpoint", ARM],
    'hpc-batch verify: --nodes "0" is invalid: must be a whole number from 1 to 1000',
  ],
  [
    "verify: --timeout that is not a duration",
    ["verify", "--stack", "dev", "--timeout", "soon", "--arm-endpoint", ARM],
    'hpc-batch verify: --timeout "soon" is invalid: must be a positive whole number of seconds, or like 500ms, 90s, 15m, 1h',
  ],
  [
    "verify: Batch endpoint over plain HTTP",
    [
      "verify",
      "--stack",
      "dev",
      "--batch-endpoint",
      "http://bahpc01.westeurope.batch.azure.com",
      "--arm-endpoint",
      ARM,
    ],
    'hpc-batch verify: --batch-endpoint "http://bahpc01.westeurope.batch.azure.com" is invalid: must be the Batch account\'s endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL',
  ],
  [
    "verify: --outputs that does not exist",
    ["verify", "--stack", "dev", "--outputs", "no-such-outputs.json", "--arm-endpoint", ARM],
    'hpc-batch verify: --outputs "no-such-outputs.json" is invalid: must be a readable file',
  ],
])("%s: exit 2, nothing written or sent", async (_what, argv, message) => {
  const before = tree();
  const sent = standIn.requests.length;
  const res = await runCli(argv.map((a) => (a === ARM ? standIn.url : a)));
  expect(res.code).toBe(2);
  expect(res.stdout).toBe("");
  if (message.startsWith("error: ")) {
    // commander's own refusal, followed by the command's usage
    expect(res.stderr.split("\n")[0]).toBe(message);
    expect(res.stderr).toContain(`Usage: hpc-batch ${argv[0]} [options]`);
  } else {
    expect(res.stderr).toBe(`${message}\n`);
  }
  expect(tree()).toEqual(before);
  expect(standIn.requests.slice(sent)).toEqual([]);
  expect(findSecrets(res.stderr)).toEqual([]);
});
