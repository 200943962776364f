import * as pulumi from "@pulumi/pulumi";
import * as batch from "@pulumi/azure-native/batch";
import { checkPoolSpec, DEFAULT_NODE_AGENT_SKU_ID } from "../lib/core/poolRules";
import { checkKnown, isKnownValue } from "../lib/core/validate";
import { DEFAULT_ARM_ENDPOINT } from "../lib/azure/credentials";
import { InputError, throwIfAny } from "../lib/core/errors";
import { validateArmEndpoint, validatePoolName } from "../lib/core/naming";
import {
  poolSettingsProvider,
  type PoolSettings,
  type PoolSettingsInputs,
} from "./poolSettingsProvider";

/** Canonical Ubuntu 24.04 LTS (Gen2 `server`; use sku "server-gen1" for Gen1-only VM sizes). */
export const DEFAULT_POOL_IMAGE = {
  publisher: "canonical",
  offer: "ubuntu-24_04-lts",
  sku: "server",
  version: "latest",
} as const;
/** The node agent matching DEFAULT_POOL_IMAGE (one constant, lib/core/config checks against it). */
export { DEFAULT_NODE_AGENT_SKU_ID };
export const DEFAULT_VM_SIZE = "Standard_D2s_v5";
/** Batch's own default evaluation interval, made explicit. */
export const DEFAULT_AUTOSCALE_EVALUATION_INTERVAL = "PT15M";

/**
 * Pool properties that replace the pool when they change (Pulumi names). Batch cannot change
 * most of them on a pool that has nodes: since api-version 2024-07-01 `Pool_Update` (PATCH) takes
 * `vmSize`, `deploymentConfiguration`... only on a pool of zero nodes, in a Steady allocation
 * state, and only applicationPackages, certificates, metadata, scaleSettings and startTask
 * without (Microsoft Learn, *Update Batch pool properties*, batch-pool-update-properties). A
 * changed `identity` reaches only nodes created after the pool shrank to 0 (Learn,
 * BatchPoolIdentity), and `targetNodeCommunicationMode` is not in the no-zero-nodes list
 * either. azure-native would send any change as a PUT, refused with `PropertyCannotBeUpdated`;
 * with `replaceOnChanges` Pulumi replaces the pool instead.
 */
export const IMMUTABLE_POOL_PROPERTIES = [
  "vmSize",
  "deploymentConfiguration",
  "networkConfiguration",
  "taskSlotsPerNode",
  "userAccounts",
  "mountConfiguration",
  "interNodeCommunication",
  "identity",
  "targetNodeCommunicationMode",
];

/**
 * Pool properties changed in place with PATCH by the pool's settings resource
 * (components/poolSettingsProvider), never by azure-native: `ignoreChanges` on the azure-native pool, so
 * it never sends the update PUT that Batch refuses (see batch-facts.md, PropertyCannotBeUpdated).
 */
export const PATCHED_POOL_PROPERTIES = [
  "scaleSettings",
  "startTask",
  "applicationPackages",
  "tags",
];

/** Rule of `applicationPackages`: Batch takes at most 10 references per pool. */
export function validatePackageCount(field: string, value: unknown): unknown {
  if (Array.isArray(value) && value.length > 10)
    throw new InputError(field, value, "must list at most 10 application packages");
  return value;
}

/** A marketplace image. */
export interface PoolImageArgs {
  publisher: pulumi.Input<string>;
  offer: pulumi.Input<string>;
  sku: pulumi.Input<string>;
  version: pulumi.Input<string>;
}

/** A command every node runs when it joins the pool, reboots or is reimaged. */
export interface PoolStartTaskArgs {
  /** Command line. Required; not run in a shell: wrap it in `/bin/sh -c '...'` to use one. */
  commandLine: pulumi.Input<string>;
  /** Keep tasks off a node until the start task succeeded. Defaults to true. */
  waitForSuccess?: pulumi.Input<boolean>;
  /** Run as an admin (pool-scoped auto user). Defaults to false: non-admin. */
  runElevated?: pulumi.Input<boolean>;
}

/** A reference to an (already active) application package version. */
export interface PoolApplicationPackageArgs {
  /** Application id, or its ARM resource id. */
  id: pulumi.Input<string>;
  /** Version; the application's default version when omitted. */
  version?: pulumi.Input<string>;
}

export interface BatchPoolArgs {
  /** Resource group of the Batch account. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** Batch account the pool belongs to. Required. */
  accountName: pulumi.Input<string>;
  /** Pool id. Required; 1 to 64 letters, digits, '-' or '_'. Changing it replaces the pool. */
  poolName: pulumi.Input<string>;
  /** Resource id of the user-assigned identity put on every node (BatchAccount.identityId, the auto-storage node identity). Required. */
  identityId: pulumi.Input<string>;
  /** VM size of every node. Defaults to "Standard_D2s_v5". Immutable: changing it replaces the pool. */
  vmSize?: pulumi.Input<string>;
  /** Dedicated nodes (fixed scale). Defaults to 0; whole number; not with autoScaleFormula. Changed in place (PATCH), as all scale settings. */
  dedicatedNodes?: pulumi.Input<number>;
  /** Spot nodes (fixed scale, `targetLowPriorityNodes`). Defaults to 0; whole number; not with autoScaleFormula. */
  spotNodes?: pulumi.Input<number>;
  /** Autoscale formula. Defaults to none (fixed scale); at most 8 KB; not with dedicatedNodes/spotNodes. */
  autoScaleFormula?: pulumi.Input<string>;
  /** How often the formula runs. Defaults to "PT15M"; PT5M to PT168H; needs autoScaleFormula. */
  autoScaleEvaluationInterval?: pulumi.Input<string>;
  /** Tasks that run at once on a node. Defaults to 1; 1 to 256 (and at most 4 x cores). Immutable. */
  taskSlotsPerNode?: pulumi.Input<number>;
  /** Marketplace image. Defaults to canonical/ubuntu-24_04-lts/server/latest; not with customImageId. Immutable. */
  image?: pulumi.Input<PoolImageArgs>;
  /** Azure Compute Gallery image (version) id. Defaults to none; not with image. Immutable. */
  customImageId?: pulumi.Input<string>;
  /** Node agent SKU matching the image. Defaults to "batch.node.ubuntu 24.04"; retired agents (RETIRED_NODE_AGENTS in lib/core/config) are rejected. Immutable. */
  nodeAgentSkuId?: pulumi.Input<string>;
  /** Start task. Defaults to none. Changed in place (PATCH): nodes run the new one when they join, reboot or are reimaged. */
  startTask?: pulumi.Input<PoolStartTaskArgs>;
  /** Application packages installed on nodes (they must be active). Defaults to none; at most 10. Changed in place (PATCH): nodes install them when they join, reboot or are reimaged. */
  applicationPackages?: pulumi.Input<pulumi.Input<PoolApplicationPackageArgs>[]>;
  /** Tags for the pool. Defaults to none. Changed in place (PATCH). */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Resource Manager endpoint the in-place updates go to. Defaults to "https://management.azure.com". */
  armEndpoint?: pulumi.Input<string>;
}

/**
 * The resource that applies changes to a pool's updatable settings with PATCH (see
 * components/poolSettingsProvider). Outputs are `declare`d, as in components/appPackage.ts.
 */
class PoolSettingsResource extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    props: { [K in keyof PoolSettingsInputs]: pulumi.Input<PoolSettingsInputs[K]> },
    opts: pulumi.CustomResourceOptions,
  ) {
    super(poolSettingsProvider, name, props, opts, "batch", "PoolSettings");
  }
}

/**
 * A Batch pool on Ubuntu 24.04 (or a gallery image), fixed-scale or autoscaled, with simplified
 * node communication and the account's managed identity on every node. Scale, start task,
 * application packages and tags change in place (one PATCH with only what changed, through the
 * `<name>-settings` child); any other change replaces the pool (delete, then create: its nodes
 * go). The Pulumi counterpart of the classic recipe's `batchAccountPool.json`.
 */
export class BatchPool extends pulumi.ComponentResource {
  /** The pool resource. */
  public readonly pool: batch.Pool;
  /** The pool's id inside its Batch account (what jobs reference). */
  public readonly poolName: pulumi.Output<string>;
  /** ARM resource id of the pool. */
  public readonly poolId: pulumi.Output<string>;
  /** The resource that PATCHes the pool's updatable settings. */
  public readonly settings: pulumi.CustomResource;

  constructor(name: string, args: BatchPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    const type = `BatchPool(${name})`;
    throwIfAny([
      ...checkKnown([
        [`${type}.poolName`, args.poolName, validatePoolName],
        [`${type}.applicationPackages`, args.applicationPackages, validatePackageCount],
        [`${type}.armEndpoint`, args.armEndpoint, validateArmEndpoint],
      ]),
      ...checkPoolSpec(`${type}.`, args, isKnownValue),
    ]);
    super("hpc-batch:batch:BatchPool", name, {}, opts);

    const scaleSettings: batch.PoolArgs["scaleSettings"] =
      args.autoScaleFormula !== undefined
        ? {
            autoScale: {
              formula: args.autoScaleFormula,
              evaluationInterval:
                args.autoScaleEvaluationInterval ?? DEFAULT_AUTOSCALE_EVALUATION_INTERVAL,
            },
          }
        : {
            fixedScale: {
              targetDedicatedNodes: args.dedicatedNodes ?? 0,
              targetLowPriorityNodes: args.spotNodes ?? 0,
            },
          };

    const startTask =
      args.startTask === undefined
        ? undefined
        : pulumi.output(args.startTask).apply((t) => ({
            commandLine: t.commandLine,
            waitForSuccess: t.waitForSuccess ?? true,
            userIdentity: {
              autoUser: {
                scope: batch.AutoUserScope.Pool,
                elevationLevel: t.runElevated
                  ? batch.ElevationLevel.Admin
                  : batch.ElevationLevel.NonAdmin,
              },
            },
          }));

    this.pool = new batch.Pool(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: args.accountName,
        poolName: args.poolName,
        vmSize: args.vmSize ?? DEFAULT_VM_SIZE,
        deploymentConfiguration: {
          virtualMachineConfiguration: {
            imageReference:
              args.customImageId !== undefined
                ? { id: args.customImageId }
                : (args.image ?? DEFAULT_POOL_IMAGE),
            nodeAgentSkuId: args.nodeAgentSkuId ?? DEFAULT_NODE_AGENT_SKU_ID,
          },
        },
        scaleSettings,
        taskSlotsPerNode: args.taskSlotsPerNode ?? 1,
        startTask,
        // Classic node communication is retired (2026-03-31).
        targetNodeCommunicationMode: batch.NodeCommunicationMode.Simplified,
        identity: {
          type: batch.PoolIdentityType.UserAssigned,
          userAssignedIdentities: [args.identityId],
        },
        applicationPackages: args.applicationPackages,
        tags: args.tags,
      },
      pulumi.mergeOptions(
        { parent: this },
        {
          replaceOnChanges: IMMUTABLE_POOL_PROPERTIES,
          // azure-native only creates and deletes the pool: the settings resource below PATCHes
          // these, so no update PUT is ever sent.
          ignoreChanges: PATCHED_POOL_PROPERTIES,
          // The pool id is fixed, so a replacement cannot exist next to the old pool (same id
          // in the same account): delete first. Running tasks are lost, but replacements only
          // come from changing an immutable property, which Batch would refuse anyway.
          deleteBeforeReplace: true,
        },
      ),
    );

    // The same values, ARM shape, plus what azure-native reported (see components/poolSettingsProvider).
    const reported: pulumi.Output<PoolSettings> = pulumi
      .all([
        this.pool.scaleSettings,
        this.pool.startTask,
        this.pool.applicationPackages,
        this.pool.tags,
      ])
      .apply(([scale, task, packages, tags]) => ({
        scaleSettings: scale as PoolSettings["scaleSettings"],
        startTask: task as PoolSettings["startTask"],
        applicationPackages: packages as PoolSettings["applicationPackages"],
        tags,
      }));
    this.settings = new PoolSettingsResource(
      `${name}-settings`,
      {
        // From the pool's id: the component takes no subscription.
        subscriptionId: this.pool.id.apply((id) => id.split("/")[2]),
        resourceGroupName: args.resourceGroupName,
        accountName: args.accountName,
        poolName: this.pool.name,
        armEndpoint: args.armEndpoint ?? DEFAULT_ARM_ENDPOINT,
        poolCreationTime: this.pool.creationTime,
        scaleSettings: scaleSettings as pulumi.Input<Record<string, unknown>>,
        startTask: startTask as pulumi.Input<Record<string, unknown>> | undefined,
        applicationPackages: args.applicationPackages as pulumi.Input<
          PoolSettings["applicationPackages"]
        >,
        tags: args.tags as pulumi.Input<Record<string, string>> | undefined,
        reported,
      },
      { parent: this, dependsOn: [this.pool] },
    );

    this.poolName = this.pool.name;
    this.poolId = this.pool.id;
    this.registerOutputs({ poolName: this.poolName, poolId: this.poolId });
  }
}
