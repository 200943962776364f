/**
 * A deployed stack as the release commands see it: the ARM stand-in (applications and versions,
 * with its strict PATCH of the default version) and the Batch data-plane stand-in (pool, nodes,
 * jobs), one scenario for both. Used by the tests of `verify --promote` and `set-default`.
 */
import type { Azurite } from "../../standins/azurite";
import { startArmBatchStandIn, type ArmBatchStandIn } from "../../standins/armBatchStandIn";
import {
  type BatchScenario,
  type BatchStandIn,
  startBatchStandIn,
} from "../../standins/batchStandIn";

export const STACK = {
  subscriptionId: "11111111-2222-3333-4444-555555555555",
  resourceGroupName: "rg-hpc-dev",
  accountName: "hpcdevbatch",
  poolId: "ffmpeg-pool",
  applicationId: "ffmpeg",
} as const;
export const ARM_TOKEN = "arm-token";
export const BATCH_TOKEN = "batch-token";
/** The ARM path of the stack's application. */
export const ARM_APP = `/subscriptions/${STACK.subscriptionId}/resourceGroups/${STACK.resourceGroupName}/providers/Microsoft.Batch/batchAccounts/${STACK.accountName}/applications/${STACK.applicationId}`;

/** The stack's outputs (`pulumi stack output --json`) with the Batch stand-in as its endpoint. */
export function stackOutputs(batchEndpoint: string, version: string): Record<string, string> {
  return {
    subscriptionId: STACK.subscriptionId,
    resourceGroupName: STACK.resourceGroupName,
    batchAccountName: STACK.accountName,
    batchAccountEndpoint: batchEndpoint,
    poolName: STACK.poolId,
    applicationId: STACK.applicationId,
    applicationVersion: version,
  };
}

export interface DeployedStackStandIns {
  arm: ArmBatchStandIn;
  batch: BatchStandIn;
  /** `METHOD path` of every ARM request, in order. */
  armCalls(): string[];
  close(): Promise<void>;
}

/**
 * Starts both stand-ins. `versions` are seeded as published earlier (state Active unless given),
 * `defaultVersion` is the application's default; `batch` overrides the Batch scenario (its
 * `version` is the stack's version, its ARM fields are unused: ARM is the ARM stand-in's).
 */
export async function startDeployedStack(opts: {
  azurite: Azurite;
  versions: { name: string; state?: "Active" | "Pending" }[];
  defaultVersion?: string;
  batch: Partial<BatchScenario> & Pick<BatchScenario, "version">;
}): Promise<DeployedStackStandIns> {
  const arm = await startArmBatchStandIn({
    azurite: opts.azurite,
    subscriptionId: STACK.subscriptionId,
    resourceGroup: STACK.resourceGroupName,
    account: STACK.accountName,
    token: ARM_TOKEN,
  });
  await arm.seed(STACK.applicationId, opts.versions, { defaultVersion: opts.defaultVersion });
  const batch = await startBatchStandIn({
    ...STACK,
    pool: { targetDedicatedNodes: 1, nodes: ["idle"] },
    task: [{ state: "running" }, { state: "completed", exitCode: 0 }],
    files: { "stdout.txt": "smoke: ok 26946 bytes in smoke-output.mp4\n", "stderr.txt": "" },
    batchToken: BATCH_TOKEN,
    armToken: ARM_TOKEN,
    ...opts.batch,
  });
  return {
    arm,
    batch,
    armCalls: () => arm.requests.map((r) => `${r.method} ${r.path}`),
    close: async () => {
      await arm.close();
      await batch.close();
    },
  };
}
