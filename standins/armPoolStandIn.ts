/**
 * A Resource Manager stand-in for Batch pools (api-version 2025-06-01), built on `startStandIn`,
 * as strict as Azure is about updating a pool. Sources: Azure/azure-rest-api-specs
 * specification/batch/resource-manager/Microsoft.Batch/stable/2025-06-01/BatchManagement.json
 * (Pool_Create, Pool_Update, Pool_Get, Pool_Delete) and its examples (PoolCreate_*.json,
 * PoolUpdate_OtherProperties.json, PoolUpdate_EnableAutoScale.json, PoolUpdate_RemoveStartTask.json).
 * - PUT of a new pool: body `{ properties: { vmSize, deploymentConfiguration... }, tags?,
 *   identity? }`; answers 200 with the pool as PoolCreate_Tags.json does (server fields and
 *   defaults added: provisioningState, allocationState, taskSlotsPerNode 1, resizeTimeout PT15M...).
 * - PUT of an EXISTING pool: 400 `PropertyCannotBeUpdated`, recorded as a violation. Azure refuses
 *   such a PUT when its body carries `deploymentConfiguration` or `networkConfiguration`, even
 *   unchanged (Azure/Batch issues 153, 144 and 85; Azure/terraform-provider-azapi issue 263, where
 *   only the autoscale formula changed; Azure/azure-sdk-for-net issue 40325), and every pool PUT
 *   carries `deploymentConfiguration`. The error body is the one quoted in those issues.
 * - PATCH of an existing pool: merges only the top-level properties sent ("only the properties
 *   specified are replaced", Pool_Update; `startTask: {}` removes the start task,
 *   PoolUpdate_RemoveStartTask.json) and answers the pool, shaped as PoolUpdate_OtherProperties.json.
 * - PATCH carrying vmSize, deploymentConfiguration, networkConfiguration, taskSlotsPerNode,
 *   userAccounts, mountConfiguration or interNodeCommunication: 400 `PropertyCannotBeUpdated`.
 *   Azure takes some of these on a pool of zero nodes only (Microsoft Learn, *Update Batch pool
 *   properties*); this stand-in models a pool with nodes, the case a deployment meets.
 * - PATCH of a missing pool: 404 `PoolNotFound`. GET and DELETE as documented (DELETE: 202, or
 *   204 when there is no such pool).
 * Every request must carry `Authorization: Bearer <token>`; `counts` tallies requests by kind.
 */
import {
  armError,
  checkArmCaller,
  startStandIn,
  type RecordedRequest,
  type StandIn,
  type StandInReply,
} from "./httpsStandIn";

export const POOL_API_VERSION = "2025-06-01";

/** A pool as the stand-in keeps it: ARM `properties` (server fields included) and `tags`. */
export interface StandInPool {
  name: string;
  properties: Record<string, unknown>;
  tags?: Record<string, string>;
  identity?: unknown;
}

export interface ArmPoolStandInOptions {
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  /** The bearer token every request must carry. */
  token: string;
  /** Pools that exist already, by name, with their ARM `properties`. */
  pools?: Record<string, object>;
}

export interface ArmPoolStandIn extends StandIn {
  /** The pools, live, by name. */
  pools: Map<string, StandInPool>;
  /** Requests by kind: `PUT pool`, `PATCH pool`, `GET pool`, `DELETE pool`. */
  counts: Record<string, number>;
}

/** Properties Batch refuses to change on a pool with nodes (batch-facts.md; Learn, above). */
export const IMMUTABLE_PROPERTIES = [
  "vmSize",
  "deploymentConfiguration",
  "networkConfiguration",
  "taskSlotsPerNode",
  "userAccounts",
  "mountConfiguration",
  "interNodeCommunication",
];

/** Pool id: letters, digits, '-' and '_', 1 to 64 (Pool_Create `poolName` pattern). */
const POOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** Read-only properties a client never sends (BatchManagement.json PoolProperties readOnly). */
const SERVER_FIELDS = [
  "lastModified",
  "creationTime",
  "provisioningState",
  "provisioningStateTransitionTime",
  "allocationState",
  "allocationStateTransitionTime",
  "currentDedicatedNodes",
  "currentLowPriorityNodes",
  "autoScaleRun",
  "resizeOperationStatus",
  "currentNodeCommunicationMode",
];

const err = armError;

/** The error Batch answers for a property it cannot update (quoted in Azure/Batch issue 85). */
export function propertyCannotBeUpdated(property: string): StandInReply {
  const reason = "A property that cannot be updated was specified as part of the request.";
  return err(400, "PropertyCannotBeUpdated", reason, {
    target: "BatchAccount",
    details: [
      { code: "Reason", message: reason },
      { code: "PropertyName", message: property },
      { code: "PropertyPath", message: `properties.${property}` },
    ],
  });
}

export async function startArmPoolStandIn(opts: ArmPoolStandInOptions): Promise<ArmPoolStandIn> {
  const pools = new Map<string, StandInPool>();
  const counts: Record<string, number> = {};
  const violations: string[] = [];
  const accountId = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${opts.account}`;
  let clock = Date.UTC(2025, 0, 1);
  const tick = () => new Date((clock += 60_000)).toISOString();
  const key = (s: string) => s.toLowerCase(); // pool ids are case-insensitive

  /** What Batch adds to a pool it creates (PoolCreate_Tags.json response). */
  const withServerFields = (p: Record<string, unknown>): Record<string, unknown> => {
    const now = tick();
    const scale = p.scaleSettings as { fixedScale?: Record<string, unknown> } | undefined;
    return {
      lastModified: now,
      creationTime: now,
      provisioningState: "Succeeded",
      provisioningStateTransitionTime: now,
      allocationState: "Resizing",
      allocationStateTransitionTime: now,
      interNodeCommunication: "Disabled",
      taskSlotsPerNode: 1,
      taskSchedulingPolicy: { nodeFillType: "Spread" },
      ...p,
      ...(scale?.fixedScale
        ? { scaleSettings: { fixedScale: { resizeTimeout: "PT15M", ...scale.fixedScale } } }
        : {}),
      currentDedicatedNodes: 0,
      currentLowPriorityNodes: 0,
    };
  };
  for (const [name, properties] of Object.entries(opts.pools ?? {})) {
    pools.set(key(name), { name, properties: withServerFields({ ...properties }) });
  }

  const poolBody = (p: StandInPool) => ({
    id: `${accountId}/pools/${p.name}`,
    name: p.name,
    type: "Microsoft.Batch/batchAccounts/pools",
    etag: 'W/"0x8D4EDFEBFADF4AB"',
    ...(p.identity !== undefined ? { identity: p.identity } : {}),
    properties: p.properties,
    ...(p.tags !== undefined ? { tags: p.tags } : {}),
  });

  /** Checks the caller, the account and the pool name; answers the error reply when one fails. */
  const guard = (
    req: RecordedRequest,
    params: Record<string, string>,
    kind: string,
  ): StandInReply | undefined => {
    const refused = checkArmCaller(opts, { counts, violations }, req, params, kind);
    if (refused) return refused;
    if (!POOL_NAME.test(params.pool)) {
      violations.push(`${kind}: pool name ${params.pool}`);
      return err(400, "InvalidParameter", "poolName");
    }
    return undefined;
  };
  const missing = () => err(404, "PoolNotFound", "The specified pool does not exist.");
  const asObject = (v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;

  const path =
    /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/(?<account>[^/]+)\/pools\/(?<pool>[^/]+)$/;
  const standIn = await startStandIn([
    {
      method: "PUT",
      path,
      apiVersion: POOL_API_VERSION,
      handle(req, params) {
        const denied = guard(req, params, "PUT pool");
        if (denied) return denied;
        const existing = pools.get(key(params.pool));
        const body = asObject(req.body);
        const props = asObject(body?.properties);
        if (existing) {
          // Issues 153/144/85: refused for the immutable properties every pool PUT carries.
          violations.push(`PUT pool ${params.pool}: a PUT of an existing pool (use PATCH)`);
          const sent = IMMUTABLE_PROPERTIES.find((p) => props?.[p] !== undefined);
          return propertyCannotBeUpdated(sent ?? "deploymentConfiguration");
        }
        if (!props || typeof props.vmSize !== "string") {
          violations.push(`PUT pool ${params.pool}: properties.vmSize required`);
          return err(400, "InvalidRequestBody", "properties.vmSize is required");
        }
        if (!asObject(asObject(props.deploymentConfiguration)?.virtualMachineConfiguration)) {
          violations.push(`PUT pool ${params.pool}: deploymentConfiguration required`);
          return err(
            400,
            "InvalidRequestBody",
            "properties.deploymentConfiguration.virtualMachineConfiguration is required",
          );
        }
        const readOnly = SERVER_FIELDS.filter((f) => props[f] !== undefined);
        if (readOnly.length > 0) {
          violations.push(`PUT pool ${params.pool}: read-only ${readOnly.join(", ")}`);
          return err(400, "InvalidRequestBody", `read-only: ${readOnly.join(", ")}`);
        }
        const pool: StandInPool = {
          name: params.pool,
          properties: withServerFields({ ...props }),
          ...(body?.tags !== undefined ? { tags: body.tags as Record<string, string> } : {}),
          ...(body?.identity !== undefined ? { identity: body.identity } : {}),
        };
        pools.set(key(params.pool), pool);
        return { status: 200, body: poolBody(pool), headers: { etag: 'W/"0x8D4EDFEBFADF4AB"' } };
      },
    },
    {
      method: "PATCH",
      path,
      apiVersion: POOL_API_VERSION,
      handle(req, params) {
        const denied = guard(req, params, "PATCH pool");
        if (denied) return denied;
        const pool = pools.get(key(params.pool));
        if (!pool) return missing();
        // The body is required (Pool_Update `parameters`, required: true).
        const body = asObject(req.body);
        if (!body) {
          violations.push(`PATCH pool ${params.pool}: body required`);
          return err(400, "InvalidRequestBody", "The request body is required.");
        }
        const props = body.properties === undefined ? {} : asObject(body.properties);
        if (!props) {
          violations.push(`PATCH pool ${params.pool}: properties must be an object`);
          return err(400, "InvalidRequestBody", "properties");
        }
        const immutable = IMMUTABLE_PROPERTIES.find((p) => props[p] !== undefined);
        if (immutable) return propertyCannotBeUpdated(immutable);
        const readOnly = SERVER_FIELDS.filter((f) => props[f] !== undefined);
        if (readOnly.length > 0) {
          violations.push(`PATCH pool ${params.pool}: read-only ${readOnly.join(", ")}`);
          return err(400, "InvalidRequestBody", `read-only: ${readOnly.join(", ")}`);
        }
        // Only the top-level properties sent are replaced; `startTask: {}` removes the task.
        for (const [k, v] of Object.entries(props)) {
          if (k === "startTask" && asObject(v) && Object.keys(v as object).length === 0) {
            delete pool.properties.startTask;
          } else {
            pool.properties[k] = v;
          }
        }
        if (body.tags !== undefined) pool.tags = body.tags as Record<string, string>;
        if (body.identity !== undefined) pool.identity = body.identity;
        pool.properties.lastModified = tick();
        return { status: 200, body: poolBody(pool), headers: { etag: 'W/"0x8D4EDFEBFADF4AB"' } };
      },
    },
    {
      method: "GET",
      path,
      apiVersion: POOL_API_VERSION,
      handle(req, params) {
        const denied = guard(req, params, "GET pool");
        if (denied) return denied;
        const pool = pools.get(key(params.pool));
        return pool ? { status: 200, body: poolBody(pool) } : missing();
      },
    },
    {
      method: "DELETE",
      path,
      apiVersion: POOL_API_VERSION,
      handle(req, params) {
        const denied = guard(req, params, "DELETE pool");
        if (denied) return denied;
        // Pool_Delete: 202 accepted (here done at once), 204 when there is no such pool.
        return pools.delete(key(params.pool)) ? { status: 202 } : { status: 204 };
      },
    },
  ]);
  return {
    ...standIn,
    // The routes' own violations (no route, api-version) and the contract checks above.
    get violations() {
      return [...standIn.violations, ...violations];
    },
    pools,
    counts,
  };
}
