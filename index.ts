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
import {
  ApplicationPackage,
  BatchAccount,
  BatchPool,
  STORAGE_BLOB_DATA_CONTRIBUTOR,
  StorageAccount,
} from "./components";
import { baseTags, parseStackConfig } from "./lib/config";
import {
  defaultAccountName,
  defaultPoolName,
  defaultResourceGroupName,
  roleAssignmentName,
  type NameScope,
} from "./lib/naming";
import { stageFolder } from "./lib/stage";
import { resolveApplicationVersion } from "./lib/version";
import { buildPackage } from "./lib/zip";

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

// Whoever runs `pulumi up` uploads the package with an Entra token: managed-identity auto-storage
// hands out storageUrls without a SAS. A person (User, the default) or a pipeline identity
// (ServicePrincipal; its ABAC condition lets it grant itself this one role, see
// components/pipelineIdentity.ts): Azure refuses a principalType that does not match.
const deployerBlobAccess = new authorization.RoleAssignment(
  "deployer-blob-data-contributor",
  {
    roleAssignmentName: pulumi
      .all([storage.accountId, client.objectId])
      .apply(([scopeId, principal]) =>
        roleAssignmentName(scopeId, principal, STORAGE_BLOB_DATA_CONTRIBUTOR),
      ),
    scope: storage.accountId,
    principalId: client.objectId,
    principalType: settings.deployerPrincipalType,
    roleDefinitionId: pulumi.interpolate`/subscriptions/${client.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${STORAGE_BLOB_DATA_CONTRIBUTOR}`,
  },
  {
    // The assignment follows whoever runs `pulumi up`: when a person and the pipeline take turns,
    // the previous one's grant is left in place rather than deleted (the pipeline identity may
    // not delete a person's assignment, and the other runner still needs it).
    retainOnDelete: true,
  },
);

// The application package: stage the binaries (idempotent), pick the version (config, else the
// conventional commits since the last app-v* tag), build the reproducible zip, then publish and
// activate it. The pool references it only through `packageReference`, which resolves once the
// version is active (a pool that references an inactive package fails).
const app = settings.application;
const builtPackage = stageFolder({ folder: app.folder })
  .then(() => resolveApplicationVersion({ folder: app.folder, configured: app.version }))
  .then(({ version }) =>
    buildPackage({ folder: app.folder, outDir: "out", applicationId: app.id, version }),
  );
const appPackage = new ApplicationPackage(
  "app-package",
  {
    subscriptionId: client.subscriptionId,
    resourceGroupName: resourceGroup.name,
    accountName: batchAccount.accountName,
    applicationId: app.id,
    displayName: app.displayName,
    version: pulumi.output(builtPackage).apply((p) => p.version),
    package: builtPackage,
    retainVersions: app.retainVersions,
  },
  { dependsOn: [deployerBlobAccess] },
);

const pool = new BatchPool("pool", {
  resourceGroupName: resourceGroup.name,
  accountName: batchAccount.accountName,
  poolName: settings.poolName ?? defaultPoolName(project, stack),
  identityId: batchAccount.identityId,
  ...settings.pool,
  applicationPackages: [appPackage.packageReference],
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
export const applicationId = appPackage.applicationId;
export const applicationVersion = appPackage.version;
export const applicationPackageSha256 = appPackage.sha256;
