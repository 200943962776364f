/**
 * The example consumer (examples/hashfiles) evaluated offline as `hpc-batch plan` evaluates the
 * stack: its own Pulumi.yaml and Pulumi.example.yaml read as the CLI reads them, the program under
 * the simulated engine, the plan's stand-ins for what Azure computes. It proves the components
 * compose from the public entry alone, and keeps the example working as the library changes.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { inspectZip } from "../lib/package/zipInspect";
import { readStackConfig } from "../lib/plan/plan";
import { PlanState, STAND_IN_SUBSCRIPTION } from "../lib/plan/planState";
import { simulate, unwrap } from "./helpers";

const EXAMPLE = path.join(__dirname, "..", "examples", "hashfiles");
const stack = readStackConfig(EXAMPLE, "example");
const standIns = new PlanState("westeurope");
/** Whoever runs `pulumi up` (getClientConfig's objectId). */
const DEPLOYER = "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b";
const sim = simulate({
  project: stack.project,
  stack: "example",
  config: stack.config,
  secretKeys: stack.secretKeys,
  id: (r) => standIns.id(r),
  state: (r) => standIns.state(r),
  call: ({ token }) => {
    if (token === "azure-native:authorization:getClientConfig") {
      return {
        clientId: "c1",
        objectId: DEPLOYER,
        subscriptionId: STAND_IN_SUBSCRIPTION,
        tenantId: "t1",
      };
    }
    throw new Error(`unexpected invoke ${token}`);
  },
  serializeDynamicProviders: false,
});
// Required after simulate(): the components capture the runtime settings when they register.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const program = require("../examples/hashfiles/index") as () => Promise<Record<string, unknown>>;

const RG = `/subscriptions/${STAND_IN_SUBSCRIPTION}/resourceGroups/rg-hashfiles-example`;
const STORAGE_ID = `${RG}/providers/Microsoft.Storage/storageAccounts/sthashfilesexample01`;
const IDENTITY_ID = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-bahashfilesexample01`;
const ZIP = path.join(EXAMPLE, "out", "hashfiles-1.0.0.zip");

let outputs: Record<string, unknown>;
beforeAll(async () => {
  outputs = await program();
  await sim.settle();
});

test("the example imports hpc-batch only through its public entry", () => {
  const text = fs.readFileSync(path.join(EXAMPLE, "index.ts"), "utf8");
  // The compiler's own scan of import/export declarations and import(), comments skipped.
  const specifiers = ts.preProcessFile(text, true, false).importedFiles.map((f) => f.fileName);
  expect(specifiers).toEqual([
    "node:path",
    "@pulumi/pulumi",
    "@pulumi/azure-native/authorization",
    "@pulumi/azure-native/resources",
    "../../components",
  ]);
});

test("the example's stack config is read as the Pulumi CLI reads it", () => {
  expect(stack.project).toBe("hashfiles");
  expect(stack.config).toEqual({
    "azure-native:location": "westeurope",
    "hashfiles:resourceGroupName": "rg-hashfiles-example",
    "hashfiles:storageAccountName": "sthashfilesexample01",
    "hashfiles:batchAccountName": "bahashfilesexample01",
    "hashfiles:applicationVersion": "1.0.0",
    "hashfiles:spotNodes": 1,
    "hashfiles:deployerPrincipalType": "User",
  });
});

test("registers exactly the group, the four components, the uploader's role and their children", () => {
  const parentType = (urn?: string) => sim.registrations.find((r) => r.urn === urn)?.type ?? null;
  const registered = sim.registrations
    .map((r) => `${r.type} ${r.name} <- ${parentType(r.parent)}`)
    .sort();
  expect(registered).toEqual(
    [
      "azure-native:resources:ResourceGroup hashfiles <- null",
      "azure-native:authorization:RoleAssignment hashfiles-deployer-blob-data-contributor <- null",
      "hpc-batch:storage:StorageAccount hashfiles <- null",
      "azure-native:storage:StorageAccount hashfiles <- hpc-batch:storage:StorageAccount",
      "azure-native:storage:BlobServiceProperties hashfiles-blob <- hpc-batch:storage:StorageAccount",
      "hpc-batch:batch:BatchAccount hashfiles <- null",
      "azure-native:managedidentity:UserAssignedIdentity hashfiles-identity <- hpc-batch:batch:BatchAccount",
      "azure-native:authorization:RoleAssignment hashfiles-blob-data-contributor <- hpc-batch:batch:BatchAccount",
      "azure-native:batch:BatchAccount hashfiles <- hpc-batch:batch:BatchAccount",
      "hpc-batch:batch:ApplicationPackage hashfiles <- null",
      "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion hashfiles-version <- hpc-batch:batch:ApplicationPackage",
      "hpc-batch:batch:BatchPool hashfiles <- null",
      "azure-native:batch:Pool hashfiles <- hpc-batch:batch:BatchPool",
      "pulumi-nodejs:dynamic/batch:PoolSettings hashfiles-settings <- hpc-batch:batch:BatchPool",
    ].sort(),
  );
});

test("buildPackage zips app/ and ApplicationPackage publishes that zip", async () => {
  const listing = await inspectZip(ZIP);
  expect(listing.entries.map((e) => [e.name, e.mode.toString(8)])).toEqual([
    ["bin/", "755"],
    ["bin/hashfiles.sh", "755"],
  ]);
  const bytes = fs.readFileSync(ZIP);
  const version = sim.find(
    "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
    "hashfiles-version",
  );
  expect(version.inputs).toMatchObject({
    subscriptionId: STAND_IN_SUBSCRIPTION,
    resourceGroupName: "rg-hashfiles-example",
    accountName: "bahashfilesexample01",
    applicationId: "hashfiles",
    displayName: "hashfiles",
    version: "1.0.0",
    packagePath: ZIP,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    setDefault: true,
    promote: "on-publish",
    retainVersions: 5,
  });
});

test("the uploader's role, the auto-storage and the pool are wired across the components", () => {
  expect(
    sim.find(
      "azure-native:authorization:RoleAssignment",
      "hashfiles-deployer-blob-data-contributor",
    ).inputs,
  ).toEqual({
    scope: STORAGE_ID,
    principalId: DEPLOYER,
    principalType: "User",
    roleDefinitionId: `/subscriptions/${STAND_IN_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
  });
  expect(sim.find("azure-native:batch:BatchAccount", "hashfiles").inputs.autoStorage).toEqual({
    storageAccountId: STORAGE_ID,
    authenticationMode: "BatchAccountManagedIdentity",
    nodeIdentityReference: { resourceId: IDENTITY_ID },
  });
  const pool = sim.find("azure-native:batch:Pool", "hashfiles").inputs;
  expect([pool.accountName, pool.poolName, pool.identity]).toEqual([
    "bahashfilesexample01",
    "hashfiles",
    { type: "UserAssigned", userAssignedIdentities: [IDENTITY_ID] },
  ]);
  expect(pool.scaleSettings).toEqual({
    fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 1, resizeTimeout: "PT15M" },
  });
  // The application without a version (its default), as Resource Manager names it.
  expect(pool.applicationPackages).toEqual([
    {
      id: `${RG}/providers/Microsoft.Batch/batchAccounts/bahashfilesexample01/applications/hashfiles`,
    },
  ]);
});

test("the example's outputs", async () => {
  const resolved = Object.fromEntries(
    await Promise.all(Object.entries(outputs).map(async ([k, v]) => [k, await unwrap(v)])),
  );
  expect(resolved).toEqual({
    batchAccountName: "bahashfilesexample01",
    poolName: "hashfiles",
    applicationVersion: "1.0.0",
    applicationPackageSha256: createHash("sha256").update(fs.readFileSync(ZIP)).digest("hex"),
  });
});
