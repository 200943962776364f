/**
 * The fake Azure behind the Pulumi tests' simulations (`simulate` in tests/helpers.ts): the ARM id
 * Azure gives an azure-native resource, built from its inputs, and the outputs Azure computes for
 * it (names, endpoints, an identity's principal and client ids, an active package version). One
 * copy, so the component tests and the program's test fake Azure the same way.
 */

/** ARM resource ids in one subscription, as Azure spells them. */
export function armIds(subscriptionId: string) {
  const group = (rg: string) => `/subscriptions/${subscriptionId}/resourceGroups/${rg}`;
  const batchAccount = (rg: string, account: string) =>
    `${group(rg)}/providers/Microsoft.Batch/batchAccounts/${account}`;
  return {
    group,
    storageAccount: (rg: string, name: string) =>
      `${group(rg)}/providers/Microsoft.Storage/storageAccounts/${name}`,
    userAssignedIdentity: (rg: string, name: string) =>
      `${group(rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
    batchAccount,
    pool: (rg: string, account: string, pool: string) =>
      `${batchAccount(rg, account)}/pools/${pool}`,
    application: (rg: string, account: string, app: string) =>
      `${batchAccount(rg, account)}/applications/${app}`,
  };
}

/** The package version resource of components/appPackageProvider. */
export const PACKAGE_VERSION_TYPE = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";

export interface FakeAzureOptions {
  subscriptionId: string;
  /** What Azure assigns a user-assigned identity. */
  principalId?: string;
  clientId?: string;
  /** The application every package version belongs to (its provider's create returns it). */
  applicationId?: string;
}

type Reg = { type: string; name: string; inputs: Record<string, unknown> };

/**
 * `id` and `state` for the resource kinds this fake knows; undefined for any other, so each
 * test keeps its own fallback (`${name}-id`, `{}`).
 */
export function fakeAzure(opts: FakeAzureOptions) {
  const ids = armIds(opts.subscriptionId);
  const str = (v: unknown) => v as string;
  return {
    id({ type, inputs }: Reg): string | undefined {
      const rg = str(inputs.resourceGroupName);
      switch (type) {
        case "azure-native:resources:ResourceGroup":
          return ids.group(rg);
        case "azure-native:storage:StorageAccount":
          return ids.storageAccount(rg, str(inputs.accountName));
        case "azure-native:managedidentity:UserAssignedIdentity":
          return ids.userAssignedIdentity(rg, str(inputs.resourceName));
        case "azure-native:batch:BatchAccount":
          return ids.batchAccount(rg, str(inputs.accountName));
        case "azure-native:batch:Pool":
          return ids.pool(rg, str(inputs.accountName), str(inputs.poolName));
        default:
          return undefined;
      }
    },
    state({ type, inputs }: Reg): Record<string, unknown> | undefined {
      switch (type) {
        case "azure-native:resources:ResourceGroup":
          return { name: inputs.resourceGroupName };
        case "azure-native:storage:StorageAccount":
          return {
            name: inputs.accountName,
            primaryEndpoints: { blob: `https://${str(inputs.accountName)}.blob.core.windows.net/` },
          };
        case "azure-native:managedidentity:UserAssignedIdentity":
          return {
            name: inputs.resourceName,
            principalId: opts.principalId,
            clientId: opts.clientId,
          };
        case "azure-native:batch:BatchAccount":
          return {
            name: inputs.accountName,
            accountEndpoint: `${str(inputs.accountName)}.${str(inputs.location)}.batch.azure.com`,
          };
        case "azure-native:batch:Pool":
          return { name: inputs.poolName };
        case PACKAGE_VERSION_TYPE:
          // What the provider's create returns once the version is active.
          return opts.applicationId === undefined
            ? undefined
            : {
                state: "Active",
                applicationResourceId: opts.applicationId,
                packageReference: { id: opts.applicationId, version: inputs.version },
              };
        default:
          return undefined;
      }
    },
  };
}
