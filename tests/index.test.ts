// The whole stack under the suite's fixture stack config (tests/fixtures/stacks/Pulumi.ci.yaml,
// never the shipped Pulumi.dev.yaml, which is the team's to edit), with Pulumi.yaml's defaults
// applied the way the CLI applies them, against a fake Azure that answers getClientConfig and
// computes ids/outputs.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { resolveApplicationVersion } from "../lib/package/version";
import { simulate, unwrap, type Registration } from "./helpers";
import { fakeAzure } from "./support/fakeAzure";
import {
  POOL_IGNORE_CHANGES,
  POOL_REPLACE_ON_CHANGES,
  UBUNTU_2404_DEPLOYMENT,
} from "./support/expectedPool";

const SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const TENANT = "72f988bf-0000-4000-8000-000000000000";
const PRINCIPAL = "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b";
const CLIENT = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-hpc-batch-ci`;
// Generated names, computed outside this code base (Python hashlib over the naming inputs).
const STORAGE_NAME = "sthpcbatchcifa6acbdb46";
const BATCH_NAME = "bahpcbatchci3318432843";
const STORAGE_ID = `${RG}/providers/Microsoft.Storage/storageAccounts/${STORAGE_NAME}`;
const IDENTITY_ID = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-${BATCH_NAME}`;
const BATCH_ID = `${RG}/providers/Microsoft.Batch/batchAccounts/${BATCH_NAME}`;
const APP_ID = `${BATCH_ID}/applications/ffmpeg`;
const PACKAGE_TYPE = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";
const TAGS = {
  environment: "ci",
  team: "render-farm",
  "managed-by": "hpc-batch",
  "pulumi-project": "hpc-batch",
  "pulumi-stack": "ci",
};
const STACK_FILE = path.join("tests", "fixtures", "stacks", "Pulumi.ci.yaml");

function readYaml(file: string) {
  return parse(fs.readFileSync(path.join(__dirname, "..", file), "utf8"));
}

/** Stack config as the CLI hands it to the program: the stack's values, then project defaults. */
function stackConfig(): Record<string, unknown> {
  const stackConfig: Record<string, unknown> = { ...readYaml(STACK_FILE).config };
  const project = readYaml("Pulumi.yaml");
  for (const [key, decl] of Object.entries<{ default?: unknown }>(project.config)) {
    const full = key.includes(":") ? key : `${project.name}:${key}`;
    if (!(full in stackConfig) && decl.default !== undefined) stackConfig[full] = decl.default;
  }
  return stackConfig;
}

const config = stackConfig();
const azure = fakeAzure({
  subscriptionId: SUB,
  principalId: PRINCIPAL,
  clientId: CLIENT,
  applicationId: APP_ID,
});
const sim = simulate({
  project: "hpc-batch",
  stack: "ci",
  config,
  call: ({ token }) => {
    if (token === "azure-native:authorization:getClientConfig")
      return {
        subscriptionId: SUB,
        tenantId: TENANT,
        clientId: "pipeline-client",
        objectId: "pipeline-object",
      };
    throw new Error(`unexpected invoke ${token}`);
  },
  id: (r) => azure.id(r) ?? `${r.name}-id`,
  state: (r) => azure.state(r) ?? {},
});

let stack: Record<string, unknown>;
let version: string;
const find = (type: string, name: string) => sim.find(type, name);
const typeOf = (urn?: string) => sim.registrations.find((r) => r.urn === urn)?.type;

beforeAll(async () => {
  // The version rule itself is tested in tests/lib/package/version.test.ts; here it must be the one used.
  version = (await resolveApplicationVersion({ folder: "hpc-application" })).version;
  // An async program: Pulumi calls it and takes its result as the stack outputs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../index") as () => Promise<Record<string, unknown>>;
  stack = await program();
  await sim.settle();
}, 120_000);

test("the config under test is the fixture stack plus Pulumi.yaml's defaults", () => {
  expect(config["azure-native:location"]).toBe("westeurope");
  expect(config["hpc-batch:batchAccountName"]).toBe("");
  expect(config["hpc-batch:retainVersions"]).toBe(5);
  expect(Object.keys(config).sort()).toEqual([
    "azure-native:location",
    "hpc-batch:applicationFolder",
    "hpc-batch:applicationStorageAccountName",
    "hpc-batch:batchAccountApplicationName",
    "hpc-batch:batchAccountName",
    "hpc-batch:batchAccountPoolName",
    "hpc-batch:batchApplicationId",
    "hpc-batch:batchApplicationVersion",
    "hpc-batch:deployerObjectId",
    "hpc-batch:deployerPrincipalType",
    "hpc-batch:pool",
    "hpc-batch:promote",
    "hpc-batch:publicNetworkAccess",
    "hpc-batch:resourceGroupName",
    "hpc-batch:retainVersions",
    "hpc-batch:tags",
  ]);
});

test("it asks Azure for the subscription once and nothing else", () => {
  expect(sim.invocations).toEqual([
    { token: "azure-native:authorization:getClientConfig", inputs: {} },
  ]);
});

test("it registers exactly the resource group, the three components and their children", () => {
  const rows = sim.registrations.map(
    (r: Registration) => `${r.type} ${r.name} <- ${typeOf(r.parent) ?? "stack"}`,
  );
  expect(rows.sort()).toEqual(
    [
      "azure-native:resources:ResourceGroup resource-group <- stack",
      "hpc-batch:storage:StorageAccount app-storage <- stack",
      "azure-native:storage:StorageAccount app-storage <- hpc-batch:storage:StorageAccount",
      "azure-native:storage:BlobServiceProperties app-storage-blob <- hpc-batch:storage:StorageAccount",
      "hpc-batch:batch:BatchAccount batch <- stack",
      "azure-native:managedidentity:UserAssignedIdentity batch-identity <- hpc-batch:batch:BatchAccount",
      "azure-native:authorization:RoleAssignment batch-blob-data-contributor <- hpc-batch:batch:BatchAccount",
      "azure-native:batch:BatchAccount batch <- hpc-batch:batch:BatchAccount",
      "azure-native:authorization:RoleAssignment deployer-blob-data-contributor <- stack",
      "hpc-batch:batch:ApplicationPackage app-package <- stack",
      `${PACKAGE_TYPE} app-package-version <- hpc-batch:batch:ApplicationPackage`,
      "hpc-batch:batch:BatchPool pool <- stack",
      "azure-native:batch:Pool pool <- hpc-batch:batch:BatchPool",
      "pulumi-nodejs:dynamic/batch:PoolSettings pool-settings <- hpc-batch:batch:BatchPool",
    ].sort(),
  );
});

test("resource group: generated name, the stack's location, tagged", () => {
  expect(find("azure-native:resources:ResourceGroup", "resource-group").inputs).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    location: "westeurope",
    tags: TAGS,
  });
});

test("storage account: generated name in the resource group, secure defaults, tagged", () => {
  const account = find("azure-native:storage:StorageAccount", "app-storage");
  expect(account.inputs).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    location: "westeurope",
    accountName: STORAGE_NAME,
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    accessTier: "Hot",
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    defaultToOAuthAuthentication: true,
    tags: TAGS,
  });
  expect(account.options.dependsOn).toEqual([
    find("azure-native:resources:ResourceGroup", "resource-group").urn,
  ]);
  expect(find("azure-native:storage:BlobServiceProperties", "app-storage-blob").inputs).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    accountName: STORAGE_NAME,
    blobServicesName: "default",
    deleteRetentionPolicy: { enabled: true, days: 7 },
    containerDeleteRetentionPolicy: { enabled: true, days: 7 },
  });
});

test("Batch account: identity, blob role on the storage account, keyless account", () => {
  expect(
    find("azure-native:managedidentity:UserAssignedIdentity", "batch-identity").inputs,
  ).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    location: "westeurope",
    resourceName: `id-${BATCH_NAME}`,
    tags: TAGS,
  });
  expect(
    find("azure-native:authorization:RoleAssignment", "batch-blob-data-contributor").inputs,
  ).toEqual({
    roleAssignmentName: "def3373d-f270-5eca-bf6d-5779138f36f7", // Python uuid5, see naming tests
    scope: STORAGE_ID,
    principalId: PRINCIPAL,
    principalType: "ServicePrincipal",
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
  });
  // Created after the resource group, the storage account, the identity and its role assignment.
  expect([...find("azure-native:batch:BatchAccount", "batch").options.dependsOn].sort()).toEqual(
    [
      find("azure-native:resources:ResourceGroup", "resource-group").urn,
      find("azure-native:storage:StorageAccount", "app-storage").urn,
      find("azure-native:managedidentity:UserAssignedIdentity", "batch-identity").urn,
      find("azure-native:authorization:RoleAssignment", "batch-blob-data-contributor").urn,
    ].sort(),
  );
  expect(find("azure-native:batch:BatchAccount", "batch").inputs).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    location: "westeurope",
    accountName: BATCH_NAME,
    poolAllocationMode: "BatchService",
    allowedAuthenticationModes: ["AAD"],
    publicNetworkAccess: "Enabled",
    identity: { type: "UserAssigned", userAssignedIdentities: [IDENTITY_ID] },
    autoStorage: {
      storageAccountId: STORAGE_ID,
      authenticationMode: "BatchAccountManagedIdentity",
      nodeIdentityReference: { resourceId: IDENTITY_ID },
    },
    tags: TAGS,
  });
});

test("pool: the stack's autoscaled Spot pool on Ubuntu 24.04 with the account's identity", () => {
  const stackPool = readYaml(STACK_FILE).config["hpc-batch:pool"];
  const pool = find("azure-native:batch:Pool", "pool");
  expect(pool.inputs).toEqual({
    resourceGroupName: "rg-hpc-batch-ci",
    accountName: BATCH_NAME,
    poolName: "hpc-batch-ci-pool",
    vmSize: "Standard_F4s_v2",
    deploymentConfiguration: UBUNTU_2404_DEPLOYMENT,
    scaleSettings: {
      autoScale: { formula: stackPool.autoScaleFormula, evaluationInterval: "PT10M" },
    },
    taskSlotsPerNode: 4,
    targetNodeCommunicationMode: "Simplified",
    identity: { type: "UserAssigned", userAssignedIdentities: [IDENTITY_ID] },
    // The application without a version: its default version (a release leaves the pool alone).
    applicationPackages: [{ id: APP_ID }],
    tags: TAGS,
  });
  expect(stackPool.autoScaleFormula).toContain("maxNodes = 3;");
  expect(pool.options.replaceOnChanges).toEqual(POOL_REPLACE_ON_CHANGES);
  // Changed in place by the pool's settings resource (PATCH), never by azure-native's PUT.
  expect(pool.options.ignoreChanges).toEqual(POOL_IGNORE_CHANGES);
  expect(pool.options.deleteBeforeReplace).toBe(true);
  // The pool waits for the resource group, the Batch account and its identity (its inputs come from them).
  expect([...pool.options.dependsOn].sort()).toEqual(
    [
      find("azure-native:resources:ResourceGroup", "resource-group").urn,
      find("azure-native:batch:BatchAccount", "batch").urn,
      find("azure-native:managedidentity:UserAssignedIdentity", "batch-identity").urn,
      find(PACKAGE_TYPE, "app-package-version").urn,
    ].sort(),
  );
});

test("the deployer may write the package's blobs: Storage Blob Data Contributor on the one account", () => {
  const grant = find("azure-native:authorization:RoleAssignment", "deployer-blob-data-contributor");
  expect(grant.parent).toBeUndefined();
  expect(grant.options.retainOnDelete).toBe(true);
  expect(grant.inputs).toEqual({
    roleAssignmentName: "80adef62-cada-5fab-80ec-fce12f3bbf8a", // Python uuid5, as above
    scope: STORAGE_ID,
    principalId: "pipeline-object",
    principalType: "User",
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
  });
});

test("application package: the staged folder, zipped, published as the computed version after the grant", async () => {
  expect(version).toMatch(/^\d+\.\d+\.\d+(-rc\.\d+)?$/);
  const pkg = find(PACKAGE_TYPE, "app-package-version");
  const zip = path.join(__dirname, "..", "out", `ffmpeg-${version}.zip`);
  const bytes = fs.statSync(zip).size;
  expect(bytes).toBeGreaterThan(20_000_000); // the staged 68 MB ffmpeg is inside
  const { __provider, sha256, ...inputs } = pkg.inputs;
  expect(typeof __provider).toBe("string");
  expect(sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(inputs).toEqual({
    subscriptionId: SUB,
    resourceGroupName: "rg-hpc-batch-ci",
    accountName: BATCH_NAME,
    applicationId: "ffmpeg",
    displayName: "ffmpeg",
    version,
    packagePath: zip,
    bytes,
    packageVersion: version,
    setDefault: true,
    promote: "after-canary",
    restartPending: false,
    batchAccountEndpoint: `${BATCH_NAME}.westeurope.batch.azure.com`,
    retainVersions: 5,
    armEndpoint: "https://management.azure.com",
    allowUpdates: false,
  });
  const grantUrn = find(
    "azure-native:authorization:RoleAssignment",
    "deployer-blob-data-contributor",
  ).urn;
  expect(find("hpc-batch:batch:ApplicationPackage", "app-package").options.dependsOn).toEqual([
    grantUrn,
  ]);
  // The version itself waits for the grant too (children do not inherit dependsOn), besides
  // what its inputs come from.
  expect([...pkg.options.dependsOn].sort()).toEqual(
    [
      grantUrn,
      find("azure-native:resources:ResourceGroup", "resource-group").urn,
      find("azure-native:batch:BatchAccount", "batch").urn,
    ].sort(),
  );
});

test("stack outputs: names, ids and endpoints, and no key or SAS", async () => {
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stack)) outputs[k] = await unwrap(v as never);
  expect(outputs).toEqual({
    subscriptionId: SUB,
    location: "westeurope",
    resourceGroupName: "rg-hpc-batch-ci",
    storageAccountName: STORAGE_NAME,
    storageAccountId: STORAGE_ID,
    storageBlobEndpoint: `https://${STORAGE_NAME}.blob.core.windows.net/`,
    batchAccountName: BATCH_NAME,
    batchAccountId: BATCH_ID,
    batchAccountEndpoint: `${BATCH_NAME}.westeurope.batch.azure.com`,
    batchIdentityId: IDENTITY_ID,
    batchIdentityClientId: CLIENT,
    poolName: "hpc-batch-ci-pool",
    applicationId: "ffmpeg",
    applicationVersion: version,
    applicationPackageSha256: find(PACKAGE_TYPE, "app-package-version").inputs.sha256,
  });
});
