// Uses only the package entry point, as another Pulumi project depending on hpc-batch would.
import * as hpc from "../../components";
import { simulate, unwrap } from "../helpers";

const SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-reuse`;

const sim = simulate({
  project: "consumer",
  stack: "ci",
  id: ({ type, inputs }) => {
    switch (type) {
      case "azure-native:storage:StorageAccount":
        return `${RG}/providers/Microsoft.Storage/storageAccounts/${inputs.accountName}`;
      case "azure-native:managedidentity:UserAssignedIdentity":
        return `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${inputs.resourceName}`;
      case "azure-native:batch:BatchAccount":
        return `${RG}/providers/Microsoft.Batch/batchAccounts/${inputs.accountName}`;
      case "azure-native:batch:Pool":
        return `${RG}/providers/Microsoft.Batch/batchAccounts/${inputs.accountName}/pools/${inputs.poolName}`;
      default:
        return `${type}-id`;
    }
  },
  state: ({ type, inputs }) => {
    switch (type) {
      case "azure-native:storage:StorageAccount":
        return {
          name: inputs.accountName,
          primaryEndpoints: { blob: `https://${inputs.accountName}.blob.core.windows.net/` },
        };
      case "azure-native:managedidentity:UserAssignedIdentity":
        return { principalId: "77777777-aaaa-4bbb-8ccc-888888888888", clientId: "c1" };
      case "azure-native:batch:BatchAccount":
        return { name: inputs.accountName, accountEndpoint: `${inputs.accountName}.batch` };
      case "azure-native:batch:Pool":
        return { name: inputs.poolName };
      default:
        return {};
    }
  },
});

test("the entry point exports the components, their constants, buildPackage, preparePackage and nothing else at runtime", () => {
  expect(Object.keys(hpc).sort()).toEqual([
    "ApplicationPackage",
    "BUILT_IN_ROLES",
    "BatchAccount",
    "BatchPool",
    "DEFAULT_NODE_AGENT_SKU_ID",
    "DEFAULT_POOL_IMAGE",
    "DEFAULT_VM_SIZE",
    "IMMUTABLE_POOL_PROPERTIES",
    "PipelineIdentity",
    "STORAGE_BLOB_DATA_CONTRIBUTOR",
    "STORAGE_SKUS",
    "StorageAccount",
    "buildPackage",
    "preparePackage",
  ]);
});

test("a consumer composes storage, Batch account and pool from the entry point alone", async () => {
  const storageArgs: hpc.StorageAccountArgs = {
    resourceGroupName: "rg-reuse",
    accountName: "streuse01",
  };
  const storage = new hpc.StorageAccount("st", storageArgs);
  const accountArgs: hpc.BatchAccountArgs = {
    resourceGroupName: "rg-reuse",
    accountName: "bareuse01",
    storageAccountId: storage.accountId,
  };
  const account = new hpc.BatchAccount("ba", accountArgs);
  const image: hpc.PoolImageArgs = hpc.DEFAULT_POOL_IMAGE;
  const startTask: hpc.PoolStartTaskArgs = { commandLine: "hostname" };
  const packages: hpc.PoolApplicationPackageArgs[] = [{ id: "ffmpeg" }];
  const poolArgs: hpc.BatchPoolArgs = {
    resourceGroupName: "rg-reuse",
    accountName: account.accountName,
    poolName: "reuse",
    identityId: account.identityId,
    image,
    startTask,
    applicationPackages: packages,
  };
  const pool = new hpc.BatchPool("pl", poolArgs);
  await sim.settle();

  const parentType = (urn?: string) => sim.registrations.find((r) => r.urn === urn)?.type;
  const registered = sim.registrations.map((r) => [r.type, r.name, parentType(r.parent)]);
  expect(registered.sort(byTypeAndName)).toEqual(
    [
      ["hpc-batch:storage:StorageAccount", "st", undefined],
      ["hpc-batch:batch:BatchAccount", "ba", undefined],
      ["hpc-batch:batch:BatchPool", "pl", undefined],
      ["azure-native:storage:StorageAccount", "st", "hpc-batch:storage:StorageAccount"],
      [
        "azure-native:managedidentity:UserAssignedIdentity",
        "ba-identity",
        "hpc-batch:batch:BatchAccount",
      ],
      ["azure-native:batch:Pool", "pl", "hpc-batch:batch:BatchPool"],
      ["pulumi-nodejs:dynamic/batch:PoolSettings", "pl-settings", "hpc-batch:batch:BatchPool"],
      ["azure-native:storage:BlobServiceProperties", "st-blob", "hpc-batch:storage:StorageAccount"],
      [
        "azure-native:authorization:RoleAssignment",
        "ba-blob-data-contributor",
        "hpc-batch:batch:BatchAccount",
      ],
      ["azure-native:batch:BatchAccount", "ba", "hpc-batch:batch:BatchAccount"],
    ].sort(byTypeAndName),
  );

  // The wiring across components: auto-storage points at the storage account, the pool at the
  // account's name and identity.
  const storageId = `${RG}/providers/Microsoft.Storage/storageAccounts/streuse01`;
  const identityId = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-bareuse01`;
  expect(sim.find("azure-native:batch:BatchAccount", "ba").inputs.autoStorage).toEqual({
    storageAccountId: storageId,
    authenticationMode: "BatchAccountManagedIdentity",
    nodeIdentityReference: { resourceId: identityId },
  });
  const p = sim.find("azure-native:batch:Pool", "pl");
  expect(p.inputs.accountName).toBe("bareuse01");
  expect(p.inputs.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: [identityId] });
  expect(p.inputs.applicationPackages).toEqual([{ id: "ffmpeg" }]);
  expect(await unwrap(pool.poolName)).toBe("reuse");
  expect(await unwrap(storage.primaryBlobEndpoint)).toBe(
    "https://streuse01.blob.core.windows.net/",
  );
});

function byTypeAndName(a: unknown[], b: unknown[]): number {
  return `${a[0]}/${a[1]}`.localeCompare(`${b[0]}/${b[1]}`);
}
