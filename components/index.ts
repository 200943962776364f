/**
 * hpc-batch's Pulumi components: the package entry point (package.json `main`), so another Pulumi
 * project can depend on hpc-batch and compose them itself. One export block per component file.
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

export { ApplicationPackage, validateArmEndpoint, validatePackageFile } from "./appPackage";
export type { ApplicationPackageArgs, ApplicationPackageFile } from "./appPackage";

export {
  PipelineIdentity,
  BUILT_IN_ROLES,
  DEPLOYER_PERMISSIONS,
  GITHUB_ISSUER,
  TOKEN_EXCHANGE_AUDIENCE,
  delegationCondition,
  deployerRoleGuid,
} from "./pipelineIdentity";
export type {
  PipelineIdentityArgs,
  PipelineAccess,
  AzureDevOpsConnection,
} from "./pipelineIdentity";
