/**
 * The hpc-batch stack: resource group -> storage account -> Batch account -> pool, the Pulumi
 * counterpart of the classic recipe's `deployment.json` orchestrator template.
 *
 * Config is read here and only here, validated as a whole before anything is registered
 * (lib/config.ts); names that config leaves unset are generated (lib/naming.ts).
 *
 * Tags: every taggable resource gets the stack's `hpc-batch:tags` plus `managed-by: hpc-batch`,
 * `pulumi-project` and `pulumi-stack` (config may not override those three; see baseTags).
 */
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import { BatchAccount, BatchPool, StorageAccount } from "./components";
import { baseTags, parseStackConfig } from "./lib/config";
import {
  defaultAccountName,
  defaultPoolName,
  defaultResourceGroupName,
  type NameScope,
} from "./lib/naming";

const project = pulumi.getProject();
const stack = pulumi.getStack();
const settings = parseStackConfig(pulumi.runtime.allConfig());
const tags = { ...settings.tags, ...baseTags(project, stack) };
const client = authorization.getClientConfigOutput();

const groupName = settings.resourceGroupName ?? defaultResourceGroupName(project, stack);
const scope: pulumi.Output<NameScope> = client.subscriptionId.apply((subscriptionId) => ({
  subscriptionId,
  resourceGroupName: groupName,
  project,
  stack,
}));

const resourceGroup = new resources.ResourceGroup("resource-group", {
  resourceGroupName: groupName,
  location: settings.location,
  tags,
});

const storage = new StorageAccount("app-storage", {
  resourceGroupName: resourceGroup.name,
  location: settings.location,
  accountName:
    settings.storageAccountName ?? scope.apply((s) => defaultAccountName("storageAccount", s)),
  tags,
});

const batchAccount = new BatchAccount("batch", {
  resourceGroupName: resourceGroup.name,
  location: settings.location,
  accountName:
    settings.batchAccountName ?? scope.apply((s) => defaultAccountName("batchAccount", s)),
  storageAccountId: storage.accountId,
  publicNetworkAccess: settings.publicNetworkAccess,
  tags,
});

// Application package (next issue): compose components/appPackage.ts here, from
// `settings.application` and `batchAccount`, and pass its active package reference to the pool
// below as `applicationPackages: [{ id, version }]` (a pool referencing an inactive package fails).

const pool = new BatchPool("pool", {
  resourceGroupName: resourceGroup.name,
  accountName: batchAccount.accountName,
  poolName: settings.poolName ?? defaultPoolName(project, stack),
  identityId: batchAccount.identityId,
  ...settings.pool,
  tags,
});

// What a pipeline or a person needs next; never a key or a SAS (there are none: keyless).
export const subscriptionId = client.subscriptionId;
export const location = settings.location;
export const resourceGroupName = resourceGroup.name;
export const storageAccountName = storage.accountName;
export const storageAccountId = storage.accountId;
export const storageBlobEndpoint = storage.primaryBlobEndpoint;
export const batchAccountName = batchAccount.accountName;
export const batchAccountId = batchAccount.accountId;
export const batchAccountEndpoint = batchAccount.accountEndpoint;
export const batchIdentityId = batchAccount.identityId;
export const batchIdentityClientId = batchAccount.identityClientId;
export const poolName = pool.poolName;
