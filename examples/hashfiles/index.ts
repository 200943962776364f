/**
 * An example consumer of hpc-batch: a Pulumi program of its own (Pulumi.yaml, Pulumi.example.yaml)
 * that composes the components for another application, app/bin/hashfiles.sh: a resource group,
 * a storage account, a Batch account, the application package and a pool that installs it.
 *
 * It uses only the package's public entry. `../../components` is that entry's source (package.json
 * `exports["."]` is its build, dist/components/index.js), so the repository type-checks and
 * evaluates this program without installing itself; tests/examples.test.ts holds it to that.
 * In your own project write `from "hpc-batch"` instead.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import {
  ApplicationPackage,
  BatchAccount,
  BatchPool,
  STORAGE_BLOB_DATA_CONTRIBUTOR,
  StorageAccount,
  buildPackage,
} from "../../components";

const APPLICATION_ID = "hashfiles";

// An async program: the zip is built (and its folder checked) before any resource is registered.
export = async () => {
  const config = new pulumi.Config();
  const location = new pulumi.Config("azure-native").require("location");

  const pkg = await buildPackage({
    folder: path.join(__dirname, "app"),
    outDir: path.join(__dirname, "out"), // ignored by git, as the repository's own out/
    applicationId: APPLICATION_ID,
    version: config.require("applicationVersion"),
  });

  const client = authorization.getClientConfigOutput();
  const group = new resources.ResourceGroup("hashfiles", {
    resourceGroupName: config.require("resourceGroupName"),
    location,
  });
  const storage = new StorageAccount("hashfiles", {
    resourceGroupName: group.name,
    location,
    accountName: config.require("storageAccountName"),
  });
  const account = new BatchAccount("hashfiles", {
    resourceGroupName: group.name,
    location,
    accountName: config.require("batchAccountName"),
    storageAccountId: storage.accountId,
  });

  // ApplicationPackage uploads the zip with the Entra identity running `pulumi up`: it needs this
  // role on the storage account before the upload (azure-native names the assignment).
  const uploader = new authorization.RoleAssignment("hashfiles-deployer-blob-data-contributor", {
    scope: storage.accountId,
    principalId: client.objectId,
    principalType: config.require("deployerPrincipalType"),
    roleDefinitionId: pulumi.interpolate`/subscriptions/${client.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${STORAGE_BLOB_DATA_CONTRIBUTOR}`,
  });
  const app = new ApplicationPackage(
    "hashfiles",
    {
      subscriptionId: client.subscriptionId,
      resourceGroupName: group.name,
      accountName: account.accountName,
      applicationId: APPLICATION_ID,
      version: pkg.version,
      package: pkg,
      batchAccountEndpoint: account.accountEndpoint,
    },
    { dependsOn: [uploader] },
  );

  const pool = new BatchPool("hashfiles", {
    resourceGroupName: group.name,
    accountName: account.accountName,
    poolName: "hashfiles",
    identityId: account.identityId,
    spotNodes: config.requireNumber("spotNodes"),
    // The application's default version: a release changes nothing in the pool.
    applicationPackages: [app.applicationReference],
  });

  return {
    batchAccountName: account.accountName,
    poolName: pool.poolName,
    applicationVersion: app.version,
    applicationPackageSha256: app.sha256,
  };
};
