/**
 * The hpc-batch policies, in the order they run and report. Two hosts run the same checks:
 * - `policy/index.ts`, the CrossGuard pack that `pulumi preview|up --policy-pack policy` starts
 *   (through the adapter in `policy/crossGuard.ts`);
 * - `policy/runner.ts`, which `hpc-batch plan` calls on the registrations of a simulated stack.
 * Importing this module starts nothing. The framework is `policy/framework.ts`, the policy config
 * `policy/config.ts`, and each policy lives with the others of its kind in `policy/rules/`.
 */
import type { HpcPolicy } from "./framework";
import { applicationNoUpdates } from "./rules/application";
import { batchAutoStorageIdentity, batchEntraOnly } from "./rules/batchAccount";
import {
  devStackSpotNodes,
  poolMaxNodes,
  poolSimplifiedCommunication,
  poolSupportedNodeAgent,
} from "./rules/pool";
import { roleAssignmentScope } from "./rules/roleAssignment";
import {
  storageHttpsOnly,
  storageMinimumTls,
  storageNoPublicBlobAccess,
  storageNoSharedKey,
} from "./rules/storage";
import { requiredTags } from "./rules/tags";

/** Every policy of the pack, in the order they run and report. */
export const POLICIES: readonly HpcPolicy[] = [
  storageHttpsOnly,
  storageMinimumTls,
  storageNoPublicBlobAccess,
  storageNoSharedKey,
  batchEntraOnly,
  batchAutoStorageIdentity,
  poolSupportedNodeAgent,
  poolSimplifiedCommunication,
  poolMaxNodes,
  applicationNoUpdates,
  roleAssignmentScope,
  devStackSpotNodes,
  requiredTags,
];
