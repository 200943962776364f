import * as pulumi from "@pulumi/pulumi";
import * as storage from "@pulumi/azure-native/storage";
import { InputError, throwIfAny } from "../lib/core/errors";
import { checkKnown } from "../lib/core/validate";
import { validateStorageAccountName } from "../lib/core/naming";

/** Standard redundancy SKUs a StorageV2 account can use for block blobs. */
export const STORAGE_SKUS = [
  "Standard_LRS",
  "Standard_ZRS",
  "Standard_GRS",
  "Standard_RAGRS",
  "Standard_GZRS",
  "Standard_RAGZRS",
] as const;
export type StorageSku = (typeof STORAGE_SKUS)[number];

export interface StorageAccountArgs {
  /** Resource group the account lives in. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region. Defaults to the resource group's (azure-native's default). */
  location?: pulumi.Input<string>;
  /** Account name. Required; 3 to 24 lowercase letters and digits, globally unique. Changing it replaces the account. */
  accountName: pulumi.Input<string>;
  /** Redundancy SKU. Defaults to "Standard_LRS"; one of STORAGE_SKUS. */
  skuName?: pulumi.Input<StorageSku>;
  /** Allow account keys and SAS (shared key). Defaults to false: Entra ID (RBAC) only. Turn on deliberately. */
  allowSharedKeyAccess?: pulumi.Input<boolean>;
  /** Days deleted blobs and containers stay recoverable (soft delete). Defaults to 7; 1 to 365. */
  softDeleteRetentionDays?: pulumi.Input<number>;
  /** Tags for the account. Defaults to none. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The storage account behind the Batch account's auto-storage (application packages): StorageV2,
 * HTTPS and TLS 1.2 only, no anonymous blob access, keyless by default, blob and container soft
 * delete. The Pulumi counterpart of the classic recipe's `storageAccount.json`.
 */
export class StorageAccount extends pulumi.ComponentResource {
  /** The storage account resource. */
  public readonly account: storage.StorageAccount;
  /** ARM resource id of the account. */
  public readonly accountId: pulumi.Output<string>;
  /** Name of the account. */
  public readonly accountName: pulumi.Output<string>;
  /** Primary blob endpoint, e.g. `https://<name>.blob.core.windows.net/`. */
  public readonly primaryBlobEndpoint: pulumi.Output<string>;

  constructor(name: string, args: StorageAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    const type = `StorageAccount(${name})`;
    throwIfAny(
      checkKnown([
        [`${type}.accountName`, args.accountName, validateStorageAccountName],
        [`${type}.skuName`, args.skuName, validateStorageSku],
        [`${type}.softDeleteRetentionDays`, args.softDeleteRetentionDays, validateSoftDeleteDays],
      ]),
    );
    super("hpc-batch:storage:StorageAccount", name, {}, opts);

    const retentionDays = args.softDeleteRetentionDays ?? 7;
    this.account = new storage.StorageAccount(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        accountName: args.accountName,
        kind: storage.Kind.StorageV2,
        sku: { name: args.skuName ?? "Standard_LRS" },
        accessTier: storage.AccessTier.Hot,
        minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
        enableHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: args.allowSharedKeyAccess ?? false,
        // With shared keys off, the portal must use Entra ID to browse blobs.
        defaultToOAuthAuthentication: true,
        tags: args.tags,
      },
      { parent: this },
    );

    new storage.BlobServiceProperties(
      `${name}-blob`,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: this.account.name,
        blobServicesName: "default", // the only name the API accepts
        deleteRetentionPolicy: { enabled: true, days: retentionDays },
        containerDeleteRetentionPolicy: { enabled: true, days: retentionDays },
      },
      { parent: this },
    );

    this.accountId = this.account.id;
    this.accountName = this.account.name;
    this.primaryBlobEndpoint = this.account.primaryEndpoints.apply((e) => e.blob);
    this.registerOutputs({
      accountId: this.accountId,
      accountName: this.accountName,
      primaryBlobEndpoint: this.primaryBlobEndpoint,
    });
  }
}

/** Rule of `skuName`. */
export function validateStorageSku(field: string, value: unknown): StorageSku {
  if (!(STORAGE_SKUS as readonly unknown[]).includes(value))
    throw new InputError(field, value, `must be one of ${STORAGE_SKUS.join(", ")}`);
  return value as StorageSku;
}

/** Rule of `softDeleteRetentionDays` (the blob service's limits). */
export function validateSoftDeleteDays(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 365)
    throw new InputError(field, value, "must be a whole number from 1 to 365");
  return value;
}
