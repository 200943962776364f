/**
 * The one table of Azure built-in role definitions hpc-batch assigns, checks or names. The GUIDs
 * are the same in every tenant (learn.microsoft.com/azure/role-based-access-control/built-in-roles);
 * everything else (the components, the policies, the plan) takes ids and names from here.
 */

/** Built-in role definition GUIDs, by role. */
export const BUILT_IN_ROLES = {
  owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  userAccessAdministrator: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  roleBasedAccessControlAdministrator: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  keyVaultCryptoUser: "12338af0-0e69-4776-bea7-57ae8d297424",
} as const;

export type BuiltInRole = keyof typeof BUILT_IN_ROLES;

/** Each built-in role's display name, as Azure shows it. */
export const ROLE_NAMES: Readonly<Record<BuiltInRole, string>> = {
  owner: "Owner",
  contributor: "Contributor",
  reader: "Reader",
  userAccessAdministrator: "User Access Administrator",
  roleBasedAccessControlAdministrator: "Role Based Access Control Administrator",
  storageBlobDataOwner: "Storage Blob Data Owner",
  storageBlobDataContributor: "Storage Blob Data Contributor",
  storageBlobDataReader: "Storage Blob Data Reader",
  keyVaultCryptoUser: "Key Vault Crypto User",
};

/** `{ <GUID>: <display name> }` for the given roles, in the order given. */
export function roleNamesById(roles: readonly BuiltInRole[]): Readonly<Record<string, string>> {
  return Object.fromEntries(roles.map((r) => [BUILT_IN_ROLES[r], ROLE_NAMES[r]]));
}
