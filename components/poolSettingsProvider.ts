/**
 * The dynamic provider behind BatchPool's in-place updates. azure-native updates a pool with a
 * full PUT carrying `deploymentConfiguration`, which Batch refuses on an existing pool with 400
 * `PropertyCannotBeUpdated` (Azure/Batch issues 153, 144, 85; Azure/terraform-provider-azapi 263;
 * Azure/azure-sdk-for-net 40325). The documented in-place change is PATCH (`Pool_Update`,
 * BatchManagement.json 2025-06-01: "only the properties specified are replaced"; Microsoft Learn
 * *Update Batch pool properties*, batch-pool-update-properties). So components/pool.ts lets
 * azure-native only create and delete the pool (`ignoreChanges` on every updatable property) and
 * this resource applies changes to those properties with one PATCH carrying only what changed.
 *
 * - diff: other coordinates (subscription, resource group, account, pool, endpoint) -> replace;
 *   another setting or another pool instance (`poolCreationTime`) -> update; else nothing.
 * - create / update: PATCH the settings that differ from what the pool has; none -> no request.
 *   What the pool has: the previous settings (same pool instance), or else what azure-native
 *   reported when it created the pool (`reported`). A new pool normally has the settings already
 *   (no request). The `reported` comparison matters when azure-native (re)created the pool from
 *   old values: Pulumi's `ignoreChanges` substitutes the old inputs for the ignored properties,
 *   replacements included (pulumi/pulumi pull 2657), and on the first run of a stack created
 *   before this resource existed.
 * - delete: nothing (deleting the pool is azure-native's job).
 *
 * Serialization: as components/appPackageProvider, this module is serialized with its closure and run in
 * a separate process, so no client or credential is created at module load.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as coreRest from "@azure/core-rest-pipeline";
import {
  BATCH_API_VERSION,
  batchManagementClient,
  type BatchAccountTarget,
} from "../lib/azure/armBatchApps";
import { DEFAULT_ARM_ENDPOINT, resolveCredentials } from "../lib/azure/credentials";
import { batchAccountResourceId } from "../lib/core/naming";

/** A pool's package reference, ARM shape (`version` absent: the default version). */
export interface PoolPackageRef {
  id: string;
  version?: string;
}

/** The pool settings hpc-batch changes in place, ARM (REST) shape. */
export interface PoolSettings {
  /** `properties.scaleSettings`: `{ fixedScale }` or `{ autoScale }`. */
  scaleSettings?: Record<string, unknown>;
  /** `properties.startTask`; absent: no start task. */
  startTask?: Record<string, unknown>;
  /** `properties.applicationPackages`; absent: none. */
  applicationPackages?: PoolPackageRef[];
  /** Top-level resource `tags` (beside `properties`, as in PoolCreate_Tags.json). */
  tags?: Record<string, string>;
}

/** What the resource takes. */
export interface PoolSettingsInputs extends PoolSettings {
  subscriptionId: string;
  resourceGroupName: string;
  accountName: string;
  poolName: string;
  /** Resource Manager endpoint. Defaults to "https://management.azure.com". */
  armEndpoint: string;
  /** The pool's `creationTime` as azure-native reported it: another value is another pool. */
  poolCreationTime?: string;
  /** The settings azure-native last reported for the pool (its outputs), ARM shape. */
  reported?: PoolSettings;
}

/** The state keeps the inputs: the settings the pool was last given. */
export type PoolSettingsOutputs = PoolSettingsInputs;

/** `Pool_Update` body: only the properties to replace. */
export interface PoolPatchBody {
  properties?: Record<string, unknown>;
  tags?: Record<string, string>;
}

/** The resource's type token, as Pulumi registers it. */
export const POOL_SETTINGS_TYPE = "pulumi-nodejs:dynamic/batch:PoolSettings";

/** Settings under `properties` that a PATCH may carry (Learn: no zero-node pool needed). */
export const PATCH_PROPERTIES = ["scaleSettings", "startTask", "applicationPackages"] as const;
/** Top-level fields a PATCH may carry. */
export const PATCH_TOP_LEVEL = ["tags"] as const;
/** Every setting this resource owns, in body order. */
export const POOL_SETTINGS = [...PATCH_PROPERTIES, ...PATCH_TOP_LEVEL] as const;
type SettingName = (typeof POOL_SETTINGS)[number];

/** Coordinates: another value is another pool (or another way to reach it). */
export const COORDINATES = [
  "subscriptionId",
  "resourceGroupName",
  "accountName",
  "poolName",
  "armEndpoint",
] as const;

/** Deep equality of JSON values (key order ignored). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => same(x, b[i]))
    );
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return (
      ka.length === kb.length &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return false;
}

/** Empty: absent, `{}` or `[]` (what a pool without the setting reports). */
const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);

/**
 * True when `actual` (as Azure reports it) already has every value of `wanted`. Azure adds its
 * defaults (`resizeTimeout`, `maxTaskRetryCount`...), so extra keys in `actual` do not count.
 */
function covers(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return (
      Array.isArray(actual) &&
      actual.length === wanted.length &&
      wanted.every((w, i) => covers(actual[i], w))
    );
  }
  if (wanted && typeof wanted === "object") {
    if (!actual || typeof actual !== "object" || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(wanted).every(([k, w]) => w === undefined || covers(a[k], w));
  }
  return actual === wanted;
}

/** Package references as `id|version` (ARM ids are case-insensitive; version absent = default). */
const refKeys = (refs: unknown) =>
  (Array.isArray(refs) ? (refs as PoolPackageRef[]) : []).map(
    (r) => `${String(r.id).toLowerCase()}|${r.version ?? ""}`,
  );

/** Whether the pool's reported value of a setting differs from the wanted one. */
function differsFromReported(name: SettingName, reported: unknown, wanted: unknown): boolean {
  if (isEmpty(wanted)) return !isEmpty(reported);
  switch (name) {
    case "applicationPackages":
      // Exact: a reference that drops its version must be sent, though `{id}` "covers" it.
      return !same(refKeys(reported), refKeys(wanted));
    case "tags":
      return !same(reported ?? {}, wanted);
    case "scaleSettings": {
      // The other mode present means the pool still runs it.
      const mode = Object.keys(wanted as object)[0];
      const other = mode === "autoScale" ? "fixedScale" : "autoScale";
      const r = (reported ?? {}) as Record<string, unknown>;
      return !isEmpty(r[other]) || !covers(r[mode], (wanted as Record<string, unknown>)[mode]);
    }
    default:
      return !covers(reported, wanted);
  }
}

/** The value a PATCH sends for a setting; an absent one is cleared (PoolUpdate_RemoveStartTask.json). */
function patchValue(name: SettingName, value: unknown): unknown {
  if (value !== undefined) return value;
  return name === "applicationPackages" ? [] : {};
}

/**
 * The PATCH body for going from `olds` (the resource's state; undefined on create) to `news`:
 * only the top-level properties whose value changed, or undefined when nothing did (then no
 * request is made). With the same pool instance the previous settings are the base; otherwise
 * (create, or a pool azure-native re-created) what azure-native reported for the pool.
 */
export function poolPatchBody(
  olds: PoolSettingsOutputs | undefined,
  news: PoolSettingsInputs,
): PoolPatchBody | undefined {
  const samePool = olds !== undefined && olds.poolCreationTime === news.poolCreationTime;
  const changed = POOL_SETTINGS.filter((name) => {
    if (samePool) return !same(olds[name], news[name]);
    // No report (a pool azure-native just created from these inputs): nothing to change.
    if (news.reported === undefined) return false;
    return differsFromReported(name, news.reported[name], news[name]);
  });
  if (changed.length === 0) return undefined;
  const body: PoolPatchBody = {};
  for (const name of changed) {
    const value = patchValue(name, news[name]);
    if (name === "tags") body.tags = value as Record<string, string>;
    else (body.properties ??= {})[name] = value;
  }
  return body;
}

/** The top-level names a body changes, for messages: `scaleSettings, tags`. */
export function patchedNames(body: PoolPatchBody): string {
  return [...Object.keys(body.properties ?? {}), ...(body.tags ? ["tags"] : [])].join(", ");
}

/** ARM resource id of a pool. */
export function poolResourceId(
  target: Omit<BatchAccountTarget, "endpoint" | "credential">,
  poolName: string,
): string {
  return `${batchAccountResourceId(target.subscriptionId, target.resourceGroup, target.account)}/pools/${poolName}`;
}

/**
 * PATCH `.../pools/{pool}?api-version=2025-06-01` with `body` as is; answers the pool as Azure
 * returns it. Sent through @azure/arm-batch's client pipeline (token, retries of 429/5xx), but not
 * through `poolOperations.update`: its `Pool` model has no top-level `tags`, so it would drop them.
 * A failure names the step and the pool: `pool <name>: PATCH of <properties> failed: <code> <message>`.
 */
export async function patchPool(
  target: BatchAccountTarget,
  poolName: string,
  body: PoolPatchBody,
): Promise<Record<string, unknown>> {
  const client = batchManagementClient(target);
  // Loaded here, not with the module: a plan loads this provider and never PATCHes. The package
  // name inside the function is what Pulumi's closure serializer keeps as `require(...)`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createPipelineRequest } = require("@azure/core-rest-pipeline") as typeof coreRest;
  const url = `${target.endpoint.replace(/\/+$/, "")}${poolResourceId(target, poolName)}?api-version=${BATCH_API_VERSION}`;
  const request = createPipelineRequest({ url, method: "PATCH", body: JSON.stringify(body) });
  request.headers.set("content-type", "application/json");
  request.headers.set("accept", "application/json");
  const step = `pool ${poolName}: PATCH of ${patchedNames(body)} failed`;
  let response;
  try {
    response = await client.sendRequest(request);
  } catch (err) {
    throw new Error(`${step}: ${(err as Error).message}`);
  }
  let parsed: Record<string, unknown> = {};
  try {
    parsed = response.bodyAsText
      ? (JSON.parse(response.bodyAsText) as Record<string, unknown>)
      : {};
  } catch {
    parsed = {};
  }
  if (response.status !== 200) {
    const error = (parsed.error ?? {}) as { code?: string; message?: string };
    const code = error.code ?? `HTTP ${response.status}`;
    const message = error.message ?? (response.bodyAsText || "(empty body)");
    throw new Error(`${step}: ${code} ${message}`);
  }
  return parsed;
}

/** Compares two coordinates: resource group names are case-insensitive in ARM. */
const sameCoordinate = (k: (typeof COORDINATES)[number], a: unknown, b: unknown) =>
  k === "resourceGroupName" && typeof a === "string" && typeof b === "string"
    ? a.toLowerCase() === b.toLowerCase()
    : a === b;

export function diffPoolSettings(
  olds: PoolSettingsOutputs,
  news: PoolSettingsInputs,
): pulumi.dynamic.DiffResult {
  const replaces = COORDINATES.filter((k) => !sameCoordinate(k, olds[k], news[k]));
  // An unknown value (preview) is Pulumi's marker string: it differs, so it counts as a change.
  const changed =
    olds.poolCreationTime !== news.poolCreationTime ||
    POOL_SETTINGS.some((k) => !same(olds[k], news[k]));
  return {
    changes: replaces.length > 0 || changed,
    replaces: [...replaces],
    deleteBeforeReplace: false,
  };
}

function targetOf(inputs: PoolSettingsInputs): BatchAccountTarget {
  return {
    endpoint: inputs.armEndpoint || DEFAULT_ARM_ENDPOINT,
    credential: resolveCredentials().arm,
    subscriptionId: inputs.subscriptionId,
    resourceGroup: inputs.resourceGroupName,
    account: inputs.accountName,
  };
}

/** Applies `poolPatchBody(olds, news)` with one PATCH, or sends nothing. */
export async function applyPoolSettings(
  olds: PoolSettingsOutputs | undefined,
  news: PoolSettingsInputs,
): Promise<PoolSettingsOutputs> {
  const body = poolPatchBody(olds, news);
  if (body !== undefined) await patchPool(targetOf(news), news.poolName, body);
  return news;
}

/** The Pulumi dynamic provider; each method delegates to a function above. */
export const poolSettingsProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news };
  },
  async diff(_id, olds, news) {
    return diffPoolSettings(olds as PoolSettingsOutputs, news as PoolSettingsInputs);
  },
  async create(inputs) {
    const news = inputs as PoolSettingsInputs;
    const outs = await applyPoolSettings(undefined, news);
    return {
      id: poolResourceId(
        {
          subscriptionId: news.subscriptionId,
          resourceGroup: news.resourceGroupName,
          account: news.accountName,
        },
        news.poolName,
      ),
      outs,
    };
  },
  async update(_id, olds, news) {
    return {
      outs: await applyPoolSettings(olds as PoolSettingsOutputs, news as PoolSettingsInputs),
    };
  },
  async delete() {
    // Deliberately nothing: azure-native deletes the pool.
  },
};
