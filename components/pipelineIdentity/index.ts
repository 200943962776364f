/**
 * The keyless identity a release pipeline signs in as (see ./component). This folder holds:
 * - args.ts: the arguments, their defaults and rules (pure);
 * - permissions.ts: the deployer custom role, its GUID and the ABAC delegation condition (pure);
 * - component.ts: the PipelineIdentity component and the federation constants.
 */
export { PipelineIdentity, GITHUB_ISSUER, TOKEN_EXCHANGE_AUDIENCE } from "./component";
export { resolvePipelineIdentitySpec } from "./args";
export type { PipelineAccess, AzureDevOpsConnection, PipelineIdentityArgs } from "./args";
export { DEPLOYER_PERMISSIONS, delegationCondition, deployerRoleGuid } from "./permissions";
/** Built-in role GUIDs: the one table in lib/core/roles, still importable from here. */
export { BUILT_IN_ROLES } from "../../lib/core/roles";
