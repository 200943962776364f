import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as batch from "@pulumi/azure-native/batch";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import { InputError, throwIfAny } from "../lib/core/errors";
import { validatePublicNetworkAccess, type PublicNetworkAccess } from "../lib/core/config";
import { checkKnown } from "../lib/core/validate";
import { roleAssignmentName, validateBatchAccountName } from "../lib/core/naming";
import { BUILT_IN_ROLES } from "../lib/core/roles";

/** Built-in role "Storage Blob Data Contributor" (read, write and delete blobs and containers). */
export const STORAGE_BLOB_DATA_CONTRIBUTOR = BUILT_IN_ROLES.storageBlobDataContributor;

const STORAGE_ACCOUNT_ID_RE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i;
export const STORAGE_ACCOUNT_ID_RULE =
  "must be a storage account resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>";

/** Rule of `storageAccountId`; returns the subscription id it contains. */
export function subscriptionOfStorageAccount(field: string, value: unknown): string {
  const m = typeof value === "string" ? STORAGE_ACCOUNT_ID_RE.exec(value) : null;
  if (!m) throw new InputError(field, value, STORAGE_ACCOUNT_ID_RULE);
  return m[1];
}

export interface BatchAccountArgs {
  /** Resource group of the account and its identity. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region. Defaults to the resource group's (azure-native's default). */
  location?: pulumi.Input<string>;
  /** Account name. Required; 3 to 24 lowercase letters and digits, unique in the region. Changing it replaces the account. */
  accountName: pulumi.Input<string>;
  /** Resource id of the auto-storage account (application packages). Required; a Microsoft.Storage/storageAccounts id. */
  storageAccountId: pulumi.Input<string>;
  /** Whether the account's endpoint is reachable from public networks. Defaults to "Enabled"; "Enabled" or "Disabled". */
  publicNetworkAccess?: pulumi.Input<PublicNetworkAccess>;
  /** Tags for the account and its identity. Defaults to none. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * A Batch account that uses no keys: Entra ID authentication only, Batch-managed pools, and
 * auto-storage reached through a user-assigned managed identity that holds Storage Blob Data
 * Contributor on that one storage account. Pools put the same identity on their nodes
 * (`identityId`), which is how nodes fetch application packages from auto-storage.
 * The Pulumi counterpart of the classic recipe's `batchAccount.json`.
 */
export class BatchAccount extends pulumi.ComponentResource {
  /** The Batch account resource. */
  public readonly account: batch.BatchAccount;
  /** The user-assigned identity of the account (and of its pools' nodes). */
  public readonly identity: managedidentity.UserAssignedIdentity;
  /** The identity's Storage Blob Data Contributor assignment on the storage account. */
  public readonly storageRoleAssignment: authorization.RoleAssignment;
  /** Name of the account. */
  public readonly accountName: pulumi.Output<string>;
  /** ARM resource id of the account. */
  public readonly accountId: pulumi.Output<string>;
  /** Batch service endpoint, e.g. `<name>.<region>.batch.azure.com` (no scheme). */
  public readonly accountEndpoint: pulumi.Output<string>;
  /** ARM resource id of the identity (what pools put on their nodes). */
  public readonly identityId: pulumi.Output<string>;
  /** Object (principal) id of the identity. */
  public readonly identityPrincipalId: pulumi.Output<string>;
  /** Client id of the identity (what code on a node passes to get a token). */
  public readonly identityClientId: pulumi.Output<string>;

  constructor(name: string, args: BatchAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    const type = `BatchAccount(${name})`;
    throwIfAny(
      checkKnown([
        [`${type}.accountName`, args.accountName, validateBatchAccountName],
        [`${type}.storageAccountId`, args.storageAccountId, subscriptionOfStorageAccount],
        [`${type}.publicNetworkAccess`, args.publicNetworkAccess, validatePublicNetworkAccess],
      ]),
    );
    super("hpc-batch:batch:BatchAccount", name, {}, opts);

    this.identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        resourceName: pulumi.output(args.accountName).apply((n) => `id-${n}`),
        tags: args.tags,
      },
      { parent: this },
    );

    // The role's name is derived from scope + principal + role, like ARM's guid(): a re-run
    // finds the same assignment instead of adding a duplicate (or failing with
    // RoleAssignmentExists). principalType avoids the "principal not found" race right after
    // the identity is created.
    const storageAccountId = pulumi.output(args.storageAccountId);
    this.storageRoleAssignment = new authorization.RoleAssignment(
      `${name}-blob-data-contributor`,
      {
        roleAssignmentName: pulumi
          .all([storageAccountId, this.identity.principalId])
          .apply(([scope, principalId]) =>
            roleAssignmentName(scope, principalId, STORAGE_BLOB_DATA_CONTRIBUTOR),
          ),
        scope: storageAccountId,
        principalId: this.identity.principalId,
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: storageAccountId.apply(
          (id) =>
            `/subscriptions/${subscriptionOfStorageAccount(`${type}.storageAccountId`, id)}/providers/Microsoft.Authorization/roleDefinitions/${STORAGE_BLOB_DATA_CONTRIBUTOR}`,
        ),
      },
      { parent: this },
    );

    this.account = new batch.BatchAccount(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        accountName: args.accountName,
        poolAllocationMode: batch.PoolAllocationMode.BatchService,
        // Entra ID only: no shared keys (TaskAuthenticationToken is retired).
        allowedAuthenticationModes: [batch.AuthenticationMode.AAD],
        publicNetworkAccess: args.publicNetworkAccess ?? "Enabled",
        identity: {
          type: batch.ResourceIdentityType.UserAssigned,
          userAssignedIdentities: [this.identity.id],
        },
        autoStorage: {
          storageAccountId: args.storageAccountId,
          authenticationMode: batch.AutoStorageAuthenticationMode.BatchAccountManagedIdentity,
          nodeIdentityReference: { resourceId: this.identity.id },
        },
        tags: args.tags,
      },
      // Created after the role assignment so the identity can reach auto-storage from the start.
      pulumi.mergeOptions({ parent: this }, { dependsOn: [this.storageRoleAssignment] }),
    );

    this.accountName = this.account.name;
    this.accountId = this.account.id;
    this.accountEndpoint = this.account.accountEndpoint;
    this.identityId = this.identity.id;
    this.identityPrincipalId = this.identity.principalId;
    this.identityClientId = this.identity.clientId;
    this.registerOutputs({
      accountName: this.accountName,
      accountId: this.accountId,
      accountEndpoint: this.accountEndpoint,
      identityId: this.identityId,
      identityPrincipalId: this.identityPrincipalId,
      identityClientId: this.identityClientId,
    });
  }
}
