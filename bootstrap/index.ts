/**
 * The one-off stack an administrator runs once per subscription (see docs/cicd.md) before any
 * pipeline can deploy hpc-batch:
 * - an "ops" resource group with the storage account and container that hold the Pulumi state of
 *   the hpc-batch stacks (Entra-only, versioned, soft delete, a delete lock), and optionally a Key
 *   Vault key for the `azurekeyvault://` secrets provider;
 * - the keyless deploy identity (GitHub Actions environments and/or an Azure DevOps service
 *   connection) and, for GitHub, a separate read-only identity for pull-request previews.
 * It exports only non-secret ids: what the pipelines' variables need. Config is read here only.
 */
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import { PipelineIdentity, type AzureDevOpsConnection } from "../components/pipelineIdentity";
import { validatePrincipalType } from "../lib/core/config";
import { InputError } from "../lib/core/errors";
import { GUID_RE, roleAssignmentName } from "../lib/core/naming";
import { BUILT_IN_ROLES } from "../lib/core/roles";

const config = new pulumi.Config();
const ns = pulumi.getProject();

/** Reads an optional string and checks it against a pattern, naming the key on failure. */
function name(key: string, pattern: RegExp, rule: string, fallback?: string): string | undefined {
  const value = config.get(key) ?? fallback;
  if (value !== undefined && !pattern.test(value))
    throw new InputError(`${ns}:${key}`, value, rule);
  return value;
}

const location = new pulumi.Config("azure-native").require("location");
const opsResourceGroupName = name(
  "opsResourceGroupName",
  /^[-\w.()]{1,89}[-\w()]$/,
  'must be 1 to 90 letters, digits, "_", "-", ".", "(" or ")", not ending in "."',
  "hpc-batch-ops",
)!;
const stateStorageAccountName = name(
  "stateStorageAccountName",
  /^[a-z0-9]{3,24}$/,
  "must be 3 to 24 lowercase letters and digits (and unique in Azure)",
);
if (stateStorageAccountName === undefined) {
  throw new InputError(`${ns}:stateStorageAccountName`, undefined, "must be set");
}
const stateContainerName = name(
  "stateContainerName",
  /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
  'must be 3 to 63 lowercase letters, digits and single "-", starting and ending with a letter or digit',
  "pulumi-state",
)!;
const keyVaultName = name(
  "keyVaultName",
  /^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/,
  'must be 3 to 24 letters, digits and single "-", starting with a letter (and unique in Azure)',
);
const githubRepository = config.get("githubRepository");
const githubEnvironments = config.getObject<string[]>("githubEnvironments") ?? ["dev", "prod"];
const githubPreview = config.getBoolean("githubPreview") ?? true;
const azureDevOpsConnections =
  config.getObject<Record<string, AzureDevOpsConnection>>("azureDevOpsConnections");
const targetScopes = config.getObject<Record<string, string>>("targetScopes");
const administrators = config.getObject<string[]>("administrators");
// Azure refuses a role assignment whose principalType does not match the principal, and
// azure-native defaults it to "User": say which kind the administrators are.
const administratorsType = validatePrincipalType(
  `${ns}:administratorsPrincipalType`,
  config.get("administratorsPrincipalType") ?? "User",
);
const protectState = config.getBoolean("protectState") ?? true;
const tags = { "hpc-batch": "ops", ...(config.getObject<Record<string, string>>("tags") ?? {}) };

const client = authorization.getClientConfigOutput();
const builtIn = (guid: string) =>
  pulumi.interpolate`/subscriptions/${client.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

// --- State (and secrets) storage -------------------------------------------------------------
const ops = new resources.ResourceGroup("ops", {
  resourceGroupName: opsResourceGroupName,
  location,
  tags,
});
const stateAccount = new storage.StorageAccount("state", {
  accountName: stateStorageAccountName,
  resourceGroupName: ops.name,
  location,
  kind: storage.Kind.StorageV2,
  // Geo-redundant: the state is small, and losing it orphans every deployed resource.
  sku: { name: storage.SkuName.Standard_GRS },
  minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
  enableHttpsTrafficOnly: true,
  allowBlobPublicAccess: false,
  // Entra only: Pulumi's azblob backend authenticates with the Azure CLI or AZURE_* variables.
  allowSharedKeyAccess: false,
  defaultToOAuthAuthentication: true,
  tags,
});
const stateBlobService = new storage.BlobServiceProperties("state", {
  accountName: stateAccount.name,
  resourceGroupName: ops.name,
  blobServicesName: "default",
  // Every checkpoint write keeps the previous one: a bad update can be rolled back.
  isVersioningEnabled: true,
  deleteRetentionPolicy: { enabled: true, days: 30 },
  containerDeleteRetentionPolicy: { enabled: true, days: 30 },
});
const stateContainer = new storage.BlobContainer(
  "state",
  {
    accountName: stateAccount.name,
    resourceGroupName: ops.name,
    containerName: stateContainerName,
    publicAccess: storage.PublicAccess.None,
  },
  { dependsOn: [stateBlobService] },
);

let secretsKeyId: pulumi.Output<string> | undefined;
let secretsProvider: pulumi.Output<string> | undefined;
if (keyVaultName !== undefined) {
  const vault = new keyvault.Vault("secrets", {
    vaultName: keyVaultName,
    resourceGroupName: ops.name,
    location,
    properties: {
      tenantId: client.tenantId,
      sku: { family: keyvault.SkuFamily.A, name: keyvault.SkuName.Standard },
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      // A purged key would make every stack's secrets unreadable: purging is refused.
      enablePurgeProtection: true,
    },
    tags,
  });
  const key = new keyvault.Key("pulumi-secrets", {
    vaultName: vault.name,
    resourceGroupName: ops.name,
    keyName: "pulumi-secrets",
    // Pulumi's azurekeyvault provider encrypts each stack's data key with RSA-OAEP-256.
    properties: { kty: keyvault.JsonWebKeyType.RSA, keySize: 3072, keyOps: ["encrypt", "decrypt"] },
    tags,
  });
  secretsKeyId = key.id;
  secretsProvider = pulumi.interpolate`azurekeyvault://${vault.name}.vault.azure.net/keys/${key.name}`;
}
const stateScope = { state: stateContainer.id };
const secretsKeyScopes = secretsKeyId ? { pulumi: secretsKeyId } : undefined;

// --- Pipeline identities ----------------------------------------------------------------------
const deploy = new PipelineIdentity("hpc-batch-deploy", {
  access: "deploy",
  githubRepository,
  githubEnvironments: githubRepository ? githubEnvironments : undefined,
  azureDevOpsConnections,
  targetScopes,
  stateScopes: stateScope,
  secretsKeyScopes,
});
const preview =
  githubRepository && githubPreview
    ? new PipelineIdentity("hpc-batch-preview", {
        access: "preview",
        githubRepository,
        githubPullRequests: true,
        targetScopes,
        stateScopes: stateScope,
        secretsKeyScopes,
      })
    : undefined;

// --- People who run `pulumi stack init` / `pulumi config set --secret` by hand -----------------
// Owner on a subscription has no data actions: without these, an administrator could not log in
// to the state container or encrypt a stack's secrets.
const admins = administrators ?? [];
const adminPrincipals: [string, pulumi.Input<string>][] =
  administrators === undefined
    ? [["self", client.objectId]]
    : admins.map((id, i) => {
        if (!GUID_RE.test(id)) {
          throw new InputError(`${ns}:administrators[${i}]`, id, "must be an Entra object id");
        }
        return [id, id] as [string, pulumi.Input<string>];
      });
const adminAssignments: authorization.RoleAssignment[] = [];
for (const [label, principalId] of adminPrincipals) {
  const grants: [string, pulumi.Input<string>, string][] = [
    ["state", stateContainer.id, BUILT_IN_ROLES.storageBlobDataContributor],
  ];
  if (secretsKeyId) grants.push(["secrets", secretsKeyId, BUILT_IN_ROLES.keyVaultCryptoUser]);
  for (const [what, scope, role] of grants) {
    const roleDefinitionId = builtIn(role);
    adminAssignments.push(
      new authorization.RoleAssignment(`admin-${what}-${label}`, {
        roleAssignmentName: pulumi
          .all([scope, principalId])
          .apply(([s, p]) => roleAssignmentName(s, p, role)),
        scope,
        principalId,
        principalType: administratorsType,
        roleDefinitionId,
        description: `hpc-batch administrator: Pulumi ${what}`,
      }),
    );
  }
}

// The deploy identity manages storage accounts across its target scopes; this lock keeps it (and
// anyone else without Microsoft.Authorization/locks/delete) from deleting the state account.
if (protectState) {
  new authorization.ManagementLockByScope(
    "state",
    {
      scope: stateAccount.id,
      lockName: "hpc-batch-state-no-delete",
      level: authorization.LockLevel.CanNotDelete,
      notes: "Holds the Pulumi state of every hpc-batch stack. Remove only to retire hpc-batch.",
    },
    // Created last, deleted first: `pulumi destroy` of this stack still works.
    { dependsOn: [stateContainer, deploy, ...(preview ? [preview] : []), ...adminAssignments] },
  );
}

export const tenantId = deploy.tenantId;
export const subscriptionId = deploy.subscriptionId;
export const deployClientId = deploy.clientId;
export const deployServicePrincipalObjectId = deploy.servicePrincipalObjectId;
export const previewClientId = preview?.clientId;
export const backendUrl = pulumi.interpolate`azblob://${stateContainer.name}?storage_account=${stateAccount.name}`;
export { secretsProvider };
/** `pulumi stack output githubVariables --json`: repository variables for .github/workflows. */
export const githubVariables = {
  AZURE_CLIENT_ID: deploy.clientId,
  AZURE_PREVIEW_CLIENT_ID: preview?.clientId ?? "",
  AZURE_TENANT_ID: deploy.tenantId,
  AZURE_SUBSCRIPTION_ID: deploy.subscriptionId,
  PULUMI_BACKEND_URL: backendUrl,
  PULUMI_SECRETS_PROVIDER: secretsProvider ?? "passphrase",
};
