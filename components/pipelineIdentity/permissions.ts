/**
 * The permission model of a PipelineIdentity: what its deployer custom role allows, that role's
 * stable GUID, and the ABAC condition that limits which roles it may hand out. Pure: no resources.
 */
import { HPC_BATCH_GUID_NAMESPACE, uuidV5 } from "../../lib/core/naming";

/**
 * What the deployer custom role allows: exactly the resource types the hpc-batch stack manages
 * (resource group, storage account, Batch account with its pools and application packages,
 * user-assigned identity), reading role assignments, and Batch jobs (data actions, as in the
 * built-in Azure Batch Job Submitter role) for `hpc-batch verify`'s smoke task. Creating role assignments comes from a
 * separate, condition-limited assignment. Deleting resource groups, adding federated credentials
 * to managed identities (a way to mint new identities) and reading keys or minting SAS tokens
 * (the stack is Entra-only) are left out on purpose.
 */
export const DEPLOYER_PERMISSIONS = {
  actions: [
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Storage/storageAccounts/*",
    "Microsoft.Batch/batchAccounts/*",
    "Microsoft.Batch/locations/*/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleDefinitions/read",
  ],
  notActions: [
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Storage/storageAccounts/regenerateKey/action",
    "Microsoft.Storage/storageAccounts/ListAccountSas/action",
    "Microsoft.Storage/storageAccounts/listServiceSas/action",
    "Microsoft.Batch/batchAccounts/listKeys/action",
    "Microsoft.Batch/batchAccounts/regenerateKeys/action",
  ],
  dataActions: ["Microsoft.Batch/batchAccounts/jobs/*"],
};

/**
 * The GUID (name) of the deployer custom role: derived from its subscription and the identity's
 * display name, so re-running the program finds the same role definition.
 */
export function deployerRoleGuid(subscriptionScope: string, displayName: string): string {
  return uuidV5(
    HPC_BATCH_GUID_NAMESPACE,
    ["role-definition", subscriptionScope, "deployer", displayName]
      .map((p) => p.toLowerCase())
      .join("|"),
  );
}

/**
 * The ABAC condition on the Role Based Access Control Administrator assignment: the identity may
 * create or delete only assignments of these roles, and only for service principals (which
 * includes managed identities) or for itself (a stack that grants whoever deploys it blob access
 * cannot know that principal's type). Format: learn.microsoft.com/azure/role-based-access-control/
 * delegate-role-assignments-examples ("Constrain roles", "Constrain roles and principal types").
 */
export function delegationCondition(roleIds: string[], selfObjectId: string): string {
  const roles = roleIds.join(", ");
  const clause = (action: "write" | "delete", source: "Request" | "Resource") => [
    "(",
    " (",
    `  !(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'})`,
    " )",
    " OR",
    " (",
    `  @${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roles}}`,
    "  AND",
    "  (",
    `   @${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}`,
    "   OR",
    `   @${source}[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${selfObjectId}}`,
    "  )",
    " )",
    ")",
  ];
  return [...clause("write", "Request"), "AND", ...clause("delete", "Resource")].join("\n");
}
