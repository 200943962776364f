/**
 * hpc-batch's public surface (package.json `exports["."]`): the components, their argument types,
 * the constants a caller passes back into them, and `buildPackage`/`preparePackage`, the
 * documented ways to build the zip `ApplicationPackage` publishes. Anything else (validators, the
 * permission model's helpers, the providers) is internal and may change without notice;
 * docs/components.md lists this surface and tests/components/entrypoint.test.ts holds it.
 */
export { StorageAccount, STORAGE_SKUS } from "./storageAccount";
export type { StorageAccountArgs, StorageSku } from "./storageAccount";

export { BatchAccount, STORAGE_BLOB_DATA_CONTRIBUTOR } from "./batchAccount";
export type { BatchAccountArgs } from "./batchAccount";

export {
  BatchPool,
  DEFAULT_NODE_AGENT_SKU_ID,
  DEFAULT_POOL_IMAGE,
  DEFAULT_VM_SIZE,
  IMMUTABLE_POOL_PROPERTIES,
} from "./pool";
export type {
  BatchPoolArgs,
  PoolApplicationPackageArgs,
  PoolImageArgs,
  PoolStartTaskArgs,
} from "./pool";

export { ApplicationPackage } from "./appPackage";
export type { ApplicationPackageArgs, ApplicationPackageFile } from "./appPackage";

export { PipelineIdentity } from "./pipelineIdentity";
export type {
  PipelineIdentityArgs,
  PipelineAccess,
  AzureDevOpsConnection,
} from "./pipelineIdentity";

// Role definition ids, e.g. for PipelineIdentityArgs.delegatableRoleIds.
export { BUILT_IN_ROLES } from "../lib/core/roles";

// The package ApplicationPackage publishes: a reproducible zip of a folder (buildPackage), or the
// whole way the hpc-batch stack takes (stage the files stage.json declares, version, build).
export { buildPackage } from "../lib/package/zip";
export type { BuildPackageOptions, PackageProgress } from "../lib/package/zip";
export type { PackageLimits } from "../lib/package/packageFolder";
export type { PackageInfo } from "../lib/core/packageFile";
export { preparePackage } from "../lib/package/prepare";
export type { PreparePackageOptions, PreparedPackage } from "../lib/package/prepare";
