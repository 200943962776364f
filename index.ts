/**
 * The hpc-batch stack: resource group -> storage account -> Batch account -> pool, the Pulumi
 * counterpart of the classic recipe's `deployment.json` orchestrator template.
 *
 * Config is read here and only here, validated as a whole before anything is registered
 * (lib/core/config.ts), then the application package is built; names that config leaves unset are
 * generated (lib/core/naming.ts).
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
import { baseTags, parseStackConfig } from "./lib/core/config";
import {
  defaultAccountName,
  defaultPoolName,
  defaultResourceGroupName,
  roleAssignmentName,
  type NameScope,
} from "./lib/core/naming";
import { preparePackage } from "./lib/package/prepare";

// An async program (Pulumi awaits it and takes its result as the stack outputs) so that the
// package is staged, versioned and built, its folder checked, before any resource is registered:
// a bad folder or an uncomputable version stops the deployment before any cloud call.
/**
 * The config keys whose values are secrets, so a message never shows one. The Node.js language
 * host passes them to the program in PULUMI_CONFIG_SECRET_KEYS (a JSON array); absent: none.
 */
function secretConfigKeys(): string[] {
  try {
    const keys: unknown = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? "[]");
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === "string") : [];
  } catch {
    return [];
  }
}

export = async () => {
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const settings = parseStackConfig(pulumi.runtime.allConfig(), { secretKeys: secretConfigKeys() });

  // The application package: stage the binaries (idempotent), pick the version (config, else
  // the conventional commits since the last app-v* tag), build the reproducible zip.
  const app = settings.application;
  const { built: builtPackage } = await preparePackage({
    folder: app.folder,
    folderField: "hpc-batch:applicationFolder",
    version: app.version,
    applicationId: app.id,
    outDir: "out",
    // Not a setting: the project's own out/ folder, named as such (as `hpc-batch plan` does).
    outDirField: "the project's out/ folder",
  });

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
  // components/pipelineIdentity/): Azure refuses a principalType that does not match.
  // The pipeline's identity when config names it (stable across runners), else the runner.
  const deployer = settings.deployerObjectId ?? client.objectId;
  const deployerBlobAccess = new authorization.RoleAssignment(
    "deployer-blob-data-contributor",
    {
      roleAssignmentName: pulumi
        .all([storage.accountId, deployer])
        .apply(([scopeId, principal]) =>
          roleAssignmentName(scopeId, principal, STORAGE_BLOB_DATA_CONTRIBUTOR),
        ),
      scope: storage.accountId,
      principalId: deployer,
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

  // Publish and activate the zip built above, then make it the application's default version
  // (at once, or after the canary: hpc-batch:promote). A release never touches the pool.
  const appPackage = new ApplicationPackage(
    "app-package",
    {
      subscriptionId: client.subscriptionId,
      resourceGroupName: resourceGroup.name,
      accountName: batchAccount.accountName,
      applicationId: app.id,
      displayName: app.displayName,
      version: builtPackage.version,
      package: builtPackage,
      retainVersions: app.retainVersions,
      promote: app.promote,
      batchAccountEndpoint: batchAccount.accountEndpoint,
    },
    { dependsOn: [deployerBlobAccess] },
  );

  const pool = new BatchPool("pool", {
    resourceGroupName: resourceGroup.name,
    accountName: batchAccount.accountName,
    poolName: settings.poolName ?? defaultPoolName(project, stack),
    identityId: batchAccount.identityId,
    ...settings.pool,
    // The application without a version: nodes install its default version when they join,
    // reboot or are reimaged. So a release (a new default) changes nothing in the pool: no pool
    // update, which azure-native would send as a PUT Azure refuses (PropertyCannotBeUpdated,
    // Azure/Batch issues 153, 144, 85). The reference resolves only once the first version is
    // active and the default, so the pool never references an inactive package.
    applicationPackages: [appPackage.applicationReference],
    tags,
  });

  // What a pipeline or a person needs next; never a key or a SAS (there are none: keyless).
  return {
    subscriptionId: client.subscriptionId,
    location: settings.location,
    resourceGroupName: resourceGroup.name,
    storageAccountName: storage.accountName,
    storageAccountId: storage.accountId,
    storageBlobEndpoint: storage.primaryBlobEndpoint,
    batchAccountName: batchAccount.accountName,
    batchAccountId: batchAccount.accountId,
    batchAccountEndpoint: batchAccount.accountEndpoint,
    batchIdentityId: batchAccount.identityId,
    batchIdentityClientId: batchAccount.identityClientId,
    poolName: pool.poolName,
    applicationId: appPackage.applicationId,
    applicationVersion: appPackage.version,
    applicationPackageSha256: appPackage.sha256,
  };
};
