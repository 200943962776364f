/**
 * Stack config: parses and validates every `hpc-batch:*` key (and `azure-native:location`) from a
 * plain object of raw values into typed `StackSettings`. Pure: `index.ts` gathers the raw values
 * (`pulumi.runtime.allConfig()`) and calls `parseStackConfig`; nothing here reads config itself.
 *
 * Every problem is collected and reported at once (`InputErrors`), one
 * `<field> <value> is invalid: <rule>` line each, before any resource is registered.
 *
 * The pool rules are exported so `components/pool.ts` applies the very same checks to its args.
 */
import { validatePromote, type Promote } from "./promote";
import { InputError, InputErrors, throwIfAny } from "./errors";
import {
  GUID_RE,
  validateApplicationId,
  validateApplicationVersion,
  validateBatchAccountName,
  validatePoolName,
  validateResourceGroupName,
  validateStorageAccountName,
} from "./naming";
import { MAX_RETAIN_VERSIONS, RETAIN_VERSIONS_RULE } from "./retention";

export { RETAIN_VERSIONS_RULE };
export const PROJECT = "hpc-batch";

// ---------------------------------------------------------------------------------------------
// Collecting errors
// ---------------------------------------------------------------------------------------------

// InputErrors and throwIfAny live in lib/core/errors.ts; re-exported for the modules importing them here.
export { InputErrors, throwIfAny };

/** Runs `fn`, moving any InputError it throws into `errors`; returns its result or undefined. */
function collect<T>(errors: InputError[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputErrors) errors.push(...err.errors);
    else if (err instanceof InputError) errors.push(err);
    else throw err;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Pool rules (shared with components/pool.ts)
// ---------------------------------------------------------------------------------------------

export const VM_SIZE_RULE =
  "must be an Azure VM size such as \"Standard_D2s_v5\" ('Standard_' then letters, digits and '_')";
export const NODE_COUNT_RULE = "must be a whole number, 0 or more";
export const TASK_SLOTS_RULE =
  "must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)";
export const AUTOSCALE_FORMULA_RULE =
  "must be a non-empty autoscale formula of at most 8 KB (8192 bytes)";
export const AUTOSCALE_INTERVAL_RULE =
  'must be an ISO 8601 duration from PT5M to PT168H, e.g. "PT5M" or "PT1H"';
export const NODE_AGENT_RULE =
  'must be a Batch node agent SKU id such as "batch.node.ubuntu 24.04"';
export const RETIRED_NODE_AGENT_RULE =
  'the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"';
export const IMAGE_RULE =
  "must be an object with publisher, offer, sku and version, e.g. {publisher: canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}";
export const IMAGE_FIELD_RULE = "must be a non-empty string";
export const RETIRED_IMAGE_RULE =
  "Ubuntu 18.04 and 20.04 images are retired; use canonical/ubuntu-24_04-lts/server/latest";
export const CUSTOM_IMAGE_RULE =
  "must be an Azure Compute Gallery image id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/galleries/<gallery>/images/<image>[/versions/<version>]";
export const START_TASK_RULE =
  "must be an object with a commandLine and optionally waitForSuccess and runElevated";
export const COMMAND_LINE_RULE =
  "must be a non-empty command line (it is not run in a shell: wrap it in /bin/sh -c '...' to use one)";
export const BOOLEAN_RULE = "must be true or false";
export const SCALE_EXCLUSIVE_RULE =
  "only one of [dedicatedNodes, spotNodes] and [autoScaleFormula, autoScaleEvaluationInterval] can be specified: a pool has either a fixed scale or an autoscale formula";
export const INTERVAL_NEEDS_FORMULA_RULE =
  "needs autoScaleFormula: the evaluation interval only applies to an autoscaled pool";
export const IMAGE_EXCLUSIVE_RULE = "only one of [image] and [customImageId] can be specified";

/** The settings of `hpc-batch:pool` (and the matching `BatchPool` args). */
export const POOL_SETTING_KEYS = [
  "vmSize",
  "dedicatedNodes",
  "spotNodes",
  "autoScaleFormula",
  "autoScaleEvaluationInterval",
  "taskSlotsPerNode",
  "image",
  "customImageId",
  "nodeAgentSkuId",
  "startTask",
] as const;
const IMAGE_KEYS = ["publisher", "offer", "sku", "version"] as const;
const START_TASK_KEYS = ["commandLine", "waitForSuccess", "runElevated"] as const;

const VM_SIZE_RE = /^standard_[a-z0-9_]+$/i;
const GALLERY_IMAGE_RE =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/galleries\/[^/]+\/images\/[^/]+(\/versions\/[^/]+)?$/i;
const ISO_DURATION_RE = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Node agents Azure Batch has retired, the one list config and the policy pack
 * (`pool-supported-node-agent`) both use: Azure/Batch#180 (CentOS 7/8, Debian 8/9/10, Ubuntu
 * 14.04, 16.04, 18.04; no new pools after 31 December 2024) and Azure/Batch#174 (Ubuntu 20.04,
 * after 23 April 2025). `batch.node.ubuntu 22.04` ends on 30 June 2027 (Azure/Batch#200): add it
 * then. Lower case, single spaces: compare with `isRetiredNodeAgent`.
 */
export const RETIRED_NODE_AGENTS: readonly string[] = [
  "batch.node.centos 7",
  "batch.node.centos 8",
  "batch.node.debian 8",
  "batch.node.debian 9",
  "batch.node.debian 10",
  "batch.node.ubuntu 14.04",
  "batch.node.ubuntu 16.04",
  "batch.node.ubuntu 18.04",
  "batch.node.ubuntu 20.04",
];

/** True for a retired node agent, however it is cased or spaced ("Batch.Node.CentOS  7"). */
export function isRetiredNodeAgent(agent: string): boolean {
  return RETIRED_NODE_AGENTS.includes(agent.trim().replace(/\s+/g, " ").toLowerCase());
}

/** Seconds in an ISO 8601 duration of days, hours, minutes and seconds; undefined if malformed. */
export function isoDurationSeconds(text: string): number | undefined {
  const m = ISO_DURATION_RE.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isWhole(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

export function validateVmSize(field: string, value: unknown): string {
  if (typeof value !== "string" || !VM_SIZE_RE.test(value))
    throw new InputError(field, value, VM_SIZE_RULE);
  return value;
}

export function validateNodeCount(field: string, value: unknown): number {
  if (!isWhole(value, 0)) throw new InputError(field, value, NODE_COUNT_RULE);
  return value;
}

export function validateTaskSlotsPerNode(field: string, value: unknown): number {
  if (!isWhole(value, 1, 256)) throw new InputError(field, value, TASK_SLOTS_RULE);
  return value;
}

export function validateAutoScaleFormula(field: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "" || Buffer.byteLength(value, "utf8") > 8192)
    throw new InputError(field, value, AUTOSCALE_FORMULA_RULE);
  return value;
}

export function validateAutoScaleEvaluationInterval(field: string, value: unknown): string {
  const seconds = typeof value === "string" ? isoDurationSeconds(value) : undefined;
  if (seconds === undefined || seconds < 5 * 60 || seconds > 168 * 3600)
    throw new InputError(field, value, AUTOSCALE_INTERVAL_RULE);
  return value as string;
}

export function validateNodeAgentSkuId(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^batch\.node\.\S/.test(value))
    throw new InputError(field, value, NODE_AGENT_RULE);
  if (isRetiredNodeAgent(value)) throw new InputError(field, value, RETIRED_NODE_AGENT_RULE);
  return value;
}

export function validateCustomImageId(field: string, value: unknown): string {
  if (typeof value !== "string" || !GALLERY_IMAGE_RE.test(value))
    throw new InputError(field, value, CUSTOM_IMAGE_RULE);
  return value;
}

/** The node agent a pool gets when config names none (the BatchPool component's default). */
export const DEFAULT_NODE_AGENT_SKU_ID = "batch.node.ubuntu 24.04";

/**
 * The Ubuntu release of a Canonical marketplace image ("24.04"), or undefined when the image is
 * not one hpc-batch can tell: `ubuntu-24_04-lts` / `ubuntu-22_04-lts` style offers and the older
 * `0001-com-ubuntu-server-jammy` naming.
 */
export function ubuntuReleaseOf(image: Record<string, unknown>): string | undefined {
  const lower = (k: string) =>
    (typeof image[k] === "string" ? (image[k] as string) : "").toLowerCase();
  if (lower("publisher") !== "canonical") return undefined;
  const m = /^ubuntu-(\d\d)_(\d\d)-lts/.exec(lower("offer"));
  if (m) return `${m[1]}.${m[2]}`;
  if (/jammy/.test(lower("offer"))) return "22.04";
  if (/noble/.test(lower("offer"))) return "24.04";
  return undefined;
}

/** True for Canonical's Ubuntu 18.04 (bionic) and 20.04 (focal) marketplace images. */
function isRetiredImage(image: Record<string, unknown>): boolean {
  const lower = (k: string) =>
    (typeof image[k] === "string" ? (image[k] as string) : "").toLowerCase();
  if (lower("publisher") !== "canonical") return false;
  return (
    lower("offer") === "ubuntuserver" ||
    /bionic|focal/.test(lower("offer")) ||
    /^(18|20)[._]04/.test(lower("sku"))
  );
}

/** `isKnown(v)` tells whether a value can be checked now (false for Outputs in a component). */
export type IsKnown = (value: unknown) => boolean;
const always: IsKnown = () => true;

/**
 * True for a value a component can check up front: not a Pulumi Output and not a Promise.
 * Duck-typed (`__pulumiOutput`, as `pulumi.Output.isInstance` does) to keep lib free of Pulumi.
 */
export function isKnownValue(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  const v = value as { __pulumiOutput?: unknown; then?: unknown };
  return v.__pulumiOutput !== true && typeof v.then !== "function";
}

/** Runs each `[field, value, validate]` whose value is set and known; returns the problems. */
export function checkKnown(
  checks: readonly (readonly [string, unknown, (field: string, value: unknown) => unknown])[],
): InputError[] {
  const errors: InputError[] = [];
  for (const [field, value, validate] of checks) {
    if (value !== undefined && isKnownValue(value)) collect(errors, () => validate(field, value));
  }
  return errors;
}

/** Edit distance (insertions, deletions, substitutions) between `a` and `b`. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * Names Azure uses for settings hpc-batch calls otherwise (the ARM pool properties), so a key
 * copied from ARM or the portal gets the right suggestion however far it is in spelling.
 */
const KEY_ALIASES: Readonly<Record<string, string>> = {
  targetdedicatednodes: "dedicatedNodes",
  targetlowprioritynodes: "spotNodes",
  lowprioritynodes: "spotNodes",
  vmsize: "vmSize",
};

/**
 * The known key closest to `key`, when close enough to be a slip: an alias (`KEY_ALIASES`), or
 * at most a third of its length in edits (at least 2), case ignored. Undefined otherwise.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const alias = KEY_ALIASES[lower];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = levenshtein(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3))
    ? best
    : undefined;
}

/** ` (did you mean <key>?)` when a known key is close to `key`, else "". */
function didYouMean(key: string, known: readonly string[]): string {
  const close = closestKey(key, known);
  return close === undefined ? "" : ` (did you mean ${close}?)`;
}

function unknownKeys(
  field: string,
  obj: Record<string, unknown>,
  known: readonly string[],
  what: string,
): InputError[] {
  return Object.keys(obj)
    .filter((k) => !known.includes(k))
    .map(
      (k) =>
        new InputError(
          `${field}.${k}`,
          obj[k],
          `is not a known ${what} setting${didYouMean(k, known)}; known: ${known.join(", ")}`,
        ),
    );
}

function checkImage(field: string, image: unknown, isKnown: IsKnown): InputError[] {
  if (!isKnown(image)) return [];
  if (!isPlainObject(image)) return [new InputError(field, image, IMAGE_RULE)];
  const errors = unknownKeys(field, image, IMAGE_KEYS, "image");
  for (const k of IMAGE_KEYS) {
    const v = image[k];
    if (isKnown(v) && (typeof v !== "string" || v.trim() === ""))
      errors.push(new InputError(`${field}.${k}`, v, IMAGE_FIELD_RULE));
  }
  if (errors.length === 0 && isRetiredImage(image))
    errors.push(new InputError(field, image, RETIRED_IMAGE_RULE));
  return errors;
}

function checkStartTask(field: string, task: unknown, isKnown: IsKnown): InputError[] {
  if (!isKnown(task)) return [];
  if (!isPlainObject(task)) return [new InputError(field, task, START_TASK_RULE)];
  const errors = unknownKeys(field, task, START_TASK_KEYS, "startTask");
  const { commandLine, waitForSuccess, runElevated } = task;
  if (isKnown(commandLine) && (typeof commandLine !== "string" || commandLine.trim() === ""))
    errors.push(new InputError(`${field}.commandLine`, commandLine, COMMAND_LINE_RULE));
  for (const [k, v] of [
    ["waitForSuccess", waitForSuccess],
    ["runElevated", runElevated],
  ] as const) {
    if (v !== undefined && isKnown(v) && typeof v !== "boolean")
      errors.push(new InputError(`${field}.${k}`, v, BOOLEAN_RULE));
  }
  return errors;
}

/**
 * Checks a pool spec (the `hpc-batch:pool` object, or a `BatchPool`'s args) and returns every
 * problem. `prefix` is prepended to each setting name, e.g. `hpc-batch:pool.`. Values for which
 * `isKnown` is false are only checked for presence (mutually exclusive settings).
 */
export function checkPoolSpec(
  prefix: string,
  spec: Partial<Record<(typeof POOL_SETTING_KEYS)[number], unknown>>,
  isKnown: IsKnown = always,
): InputError[] {
  const errors: InputError[] = [];
  const field = (k: string) => `${prefix}${k}`;
  const known = (v: unknown) => v !== undefined && isKnown(v);
  const shown = (v: unknown) => (isKnown(v) ? v : "<computed>");
  const single: [keyof typeof spec, (f: string, v: unknown) => unknown][] = [
    ["vmSize", validateVmSize],
    ["dedicatedNodes", validateNodeCount],
    ["spotNodes", validateNodeCount],
    ["autoScaleFormula", validateAutoScaleFormula],
    ["autoScaleEvaluationInterval", validateAutoScaleEvaluationInterval],
    ["taskSlotsPerNode", validateTaskSlotsPerNode],
    ["customImageId", validateCustomImageId],
    ["nodeAgentSkuId", validateNodeAgentSkuId],
  ];
  for (const [k, validate] of single) {
    if (known(spec[k])) collect(errors, () => validate(field(k), spec[k]));
  }
  if (spec.image !== undefined) errors.push(...checkImage(field("image"), spec.image, isKnown));
  if (spec.startTask !== undefined)
    errors.push(...checkStartTask(field("startTask"), spec.startTask, isKnown));

  const fixed = spec.dedicatedNodes !== undefined || spec.spotNodes !== undefined;
  if (fixed && spec.autoScaleFormula !== undefined)
    errors.push(
      new InputError(field("autoScaleFormula"), shown(spec.autoScaleFormula), SCALE_EXCLUSIVE_RULE),
    );
  if (spec.autoScaleEvaluationInterval !== undefined && spec.autoScaleFormula === undefined)
    errors.push(
      new InputError(
        field("autoScaleEvaluationInterval"),
        shown(spec.autoScaleEvaluationInterval),
        INTERVAL_NEEDS_FORMULA_RULE,
      ),
    );
  // Batch refuses a pool whose node agent does not fit its image; say so before deploying.
  if (known(spec.image) && typeof spec.image === "object" && spec.image !== null) {
    const release = ubuntuReleaseOf(spec.image as Record<string, unknown>);
    const agent =
      spec.nodeAgentSkuId === undefined ? DEFAULT_NODE_AGENT_SKU_ID : spec.nodeAgentSkuId;
    if (release !== undefined && isKnown(agent) && typeof agent === "string") {
      const wanted = `batch.node.ubuntu ${release}`;
      if (agent.trim().replace(/\s+/g, " ").toLowerCase() !== wanted) {
        const which = spec.nodeAgentSkuId === undefined ? `the default "${agent}"` : `"${agent}"`;
        errors.push(
          new InputError(
            field("nodeAgentSkuId"),
            spec.nodeAgentSkuId,
            `must match the image: Ubuntu ${release} runs with node agent "${wanted}", not ${which}`,
          ),
        );
      }
    }
  }
  if (spec.image !== undefined && spec.customImageId !== undefined)
    errors.push(
      new InputError(field("customImageId"), shown(spec.customImageId), IMAGE_EXCLUSIVE_RULE),
    );
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Other value rules
// ---------------------------------------------------------------------------------------------

export type PublicNetworkAccess = "Enabled" | "Disabled";
export const PUBLIC_NETWORK_ACCESS_RULE = 'must be "Enabled" or "Disabled"';
export type DeployerPrincipalType = "User" | "Group" | "ServicePrincipal";
export const PRINCIPAL_TYPE_RULE =
  'must be "User", "Group" or "ServicePrincipal", the kind of the principal (Azure refuses a role assignment whose principal type does not match)';
export const OBJECT_ID_RULE = "must be an Entra object id (a GUID)";
export const LOCATION_RULE =
  'must be set to an Azure region name such as "westeurope" (lowercase letters and digits)';
export const DISPLAY_NAME_RULE = "must be a display name of 1 to 1024 characters";
export const FOLDER_RULE = "must be a non-empty path to the folder that becomes the package";
export const OBJECT_RULE = "must be an object (a YAML mapping under the key)";
export const TAG_VALUE_RULE = "must be a string of at most 256 characters";
export const TAG_NAME_RULE = "tag names must be 1 to 128 characters, none of < > % & \\ ? /";
/** Tags hpc-batch puts on every resource; config may not set them. */
export const RESERVED_TAGS = ["managed-by", "pulumi-project", "pulumi-stack"] as const;
export const RESERVED_TAG_RULE =
  "managed-by, pulumi-project and pulumi-stack are set by hpc-batch on every resource; choose another tag name";
/** Azure allows 50 tags per resource; hpc-batch sets the reserved ones. */
export const MAX_CONFIG_TAGS = 50 - RESERVED_TAGS.length;
export const TAG_COUNT_RULE = `must have at most ${MAX_CONFIG_TAGS} tags (Azure allows 50 per resource and hpc-batch sets ${RESERVED_TAGS.length})`;

export function validatePublicNetworkAccess(field: string, value: unknown): PublicNetworkAccess {
  if (value !== "Enabled" && value !== "Disabled")
    throw new InputError(field, value, PUBLIC_NETWORK_ACCESS_RULE);
  return value;
}

/** The principalType of a role assignment; azure-native's default ("User") is not always right. */
export function validatePrincipalType(field: string, value: unknown): DeployerPrincipalType {
  if (value !== "User" && value !== "Group" && value !== "ServicePrincipal")
    throw new InputError(field, value, PRINCIPAL_TYPE_RULE);
  return value;
}

export function validateLocation(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^[a-z][a-z0-9]*$/.test(value))
    throw new InputError(field, value, LOCATION_RULE);
  return value;
}

/** lib/core/retention's rule, for config values, which may arrive as strings ("5"). */
export function validateRetainVersions(field: string, value: unknown): number {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (!isWhole(n, 1, MAX_RETAIN_VERSIONS)) throw new InputError(field, value, RETAIN_VERSIONS_RULE);
  return n;
}

/** The tags hpc-batch adds to every taggable resource of a stack. */
export function baseTags(project: string, stack: string): Record<string, string> {
  return { "managed-by": PROJECT, "pulumi-project": project, "pulumi-stack": stack };
}

// ---------------------------------------------------------------------------------------------
// The stack config
// ---------------------------------------------------------------------------------------------

export interface ImageSettings {
  publisher: string;
  offer: string;
  sku: string;
  version: string;
}

export interface StartTaskSettings {
  commandLine: string;
  waitForSuccess?: boolean;
  runElevated?: boolean;
}

/** `hpc-batch:pool`: only the settings the stack set; `BatchPool` supplies the defaults. */
export interface PoolSettings {
  vmSize?: string;
  dedicatedNodes?: number;
  spotNodes?: number;
  autoScaleFormula?: string;
  autoScaleEvaluationInterval?: string;
  taskSlotsPerNode?: number;
  image?: ImageSettings;
  customImageId?: string;
  nodeAgentSkuId?: string;
  startTask?: StartTaskSettings;
}

/** The application package settings (used by the app-package component and the CLI). */
export interface ApplicationSettings {
  /** `hpc-batch:batchApplicationId`. */
  id: string;
  /** `hpc-batch:batchAccountApplicationName`; the id when unset. */
  displayName: string;
  /** `hpc-batch:batchApplicationVersion`; undefined means "compute it from the commits". */
  version?: string;
  /** `hpc-batch:applicationFolder`. */
  folder: string;
  /** `hpc-batch:retainVersions`. */
  retainVersions: number;
  /** `hpc-batch:promote`: when a release becomes the default version. */
  promote: Promote;
}

export interface StackSettings {
  /** `azure-native:location`. */
  location: string;
  /** `hpc-batch:resourceGroupName`; undefined means "generate one". */
  resourceGroupName?: string;
  /** `hpc-batch:applicationStorageAccountName`; undefined means "generate one". */
  storageAccountName?: string;
  /** `hpc-batch:batchAccountName`; undefined means "generate one". */
  batchAccountName?: string;
  /** `hpc-batch:batchAccountPoolName`; undefined means "generate one". */
  poolName?: string;
  pool: PoolSettings;
  /** `hpc-batch:tags`: the stack's own tags (the reserved `baseTags` are added by index.ts). */
  tags: Record<string, string>;
  /** `hpc-batch:publicNetworkAccess` of the Batch account. */
  publicNetworkAccess: PublicNetworkAccess;
  /** `hpc-batch:deployerPrincipalType`: who runs `pulumi up` (for its blob role assignment). */
  deployerPrincipalType: DeployerPrincipalType;
  /** `hpc-batch:deployerObjectId`; undefined means "whoever runs `pulumi up`". */
  deployerObjectId?: string;
  application: ApplicationSettings;
}

/**
 * Defaults of the `hpc-batch:*` keys, exactly as Pulumi.yaml declares them (a test keeps the two
 * equal). An empty string or object means "unset": a name is then generated, the display name is
 * the id, the version is computed from the commits, the pool uses `BatchPool`'s defaults.
 */
export const CONFIG_DEFAULTS = {
  resourceGroupName: "",
  applicationStorageAccountName: "",
  batchAccountName: "",
  batchAccountPoolName: "",
  pool: {},
  tags: {},
  publicNetworkAccess: "Enabled",
  deployerPrincipalType: "User",
  deployerObjectId: "",
  batchApplicationId: "ffmpeg",
  batchAccountApplicationName: "",
  batchApplicationVersion: "",
  applicationFolder: "hpc-application",
  retainVersions: 5,
  promote: "on-publish",
} as const;

/** Every `hpc-batch:*` key; any other key in the namespace is rejected. */
export const CONFIG_KEYS = Object.keys(CONFIG_DEFAULTS) as (keyof typeof CONFIG_DEFAULTS)[];

const key = (k: keyof typeof CONFIG_DEFAULTS) => `${PROJECT}:${k}`;

/** An object value: config objects reach the program as JSON text, tests may pass objects. */
function asObject(field: string, raw: unknown): Record<string, unknown> {
  let v = raw;
  if (typeof raw === "string") {
    try {
      v = JSON.parse(raw);
    } catch {
      throw new InputError(field, raw, OBJECT_RULE);
    }
  }
  if (!isPlainObject(v)) throw new InputError(field, raw, OBJECT_RULE);
  return v;
}

function parsePool(field: string, raw: unknown, errors: InputError[]): PoolSettings {
  const obj = collect(errors, () => asObject(field, raw));
  if (!obj) return {};
  const problems = [
    ...unknownKeys(field, obj, POOL_SETTING_KEYS, "pool"),
    ...checkPoolSpec(`${field}.`, obj),
  ];
  errors.push(...problems);
  if (problems.length > 0) return {};
  const pool: Record<string, unknown> = {};
  for (const k of POOL_SETTING_KEYS) if (obj[k] !== undefined) pool[k] = obj[k];
  return pool as PoolSettings;
}

function parseTags(field: string, raw: unknown, errors: InputError[]): Record<string, string> {
  const obj = collect(errors, () => asObject(field, raw));
  if (!obj) return {};
  const tags: Record<string, string> = {};
  const reserved: readonly string[] = RESERVED_TAGS;
  for (const [name, value] of Object.entries(obj)) {
    if (name.length < 1 || name.length > 128 || /[<>%&\\?/]/.test(name))
      errors.push(new InputError(field, name, TAG_NAME_RULE));
    else if (reserved.includes(name.toLowerCase()))
      errors.push(new InputError(`${field}.${name}`, value, RESERVED_TAG_RULE));
    else if (typeof value !== "string" || value.length > 256)
      errors.push(new InputError(`${field}.${name}`, value, TAG_VALUE_RULE));
    else tags[name] = value;
  }
  if (Object.keys(obj).length > MAX_CONFIG_TAGS)
    errors.push(new InputError(field, obj, TAG_COUNT_RULE));
  return tags;
}

/** An optional name: absent or "" means unset, anything else must satisfy the name rule. */
function optionalName(
  raw: Record<string, unknown>,
  k: keyof typeof CONFIG_DEFAULTS,
  validate: (field: string, value: unknown) => string,
  errors: InputError[],
): string | undefined {
  const v = raw[key(k)];
  if (v === undefined || v === "") return undefined;
  return collect(errors, () => validate(key(k), v));
}

/**
 * Parses the stack config (full keys such as `hpc-batch:pool` to raw values, as
 * `pulumi.runtime.allConfig()` returns them) into `StackSettings`. Keys of other namespaces are
 * ignored, except `azure-native:location`. Throws InputError / InputErrors listing every problem.
 */
export function parseStackConfig(
  raw: Record<string, unknown>,
  opts: ParseStackConfigOptions = {},
): StackSettings {
  try {
    return parseStackConfigValues(raw);
  } catch (err) {
    const secret = opts.secretKeys ?? [];
    if (secret.length === 0 || !(err instanceof InputError)) throw err;
    const list = err instanceof InputErrors ? err.errors : [err];
    throw rebuild(list.map((e) => (isUnder(e.field, secret) ? hideSecretValue(e) : e)));
  }
}

export interface ParseStackConfigOptions {
  /**
   * Full keys whose values are secrets (`secure:` in the stack file). Their values never appear
   * in a message, whatever stands in for them (a plan cannot decrypt them).
   */
  secretKeys?: readonly string[];
}

/** What a message shows in place of a secret value. */
export const SECRET_VALUE_SHOWN = "[secret]";

function isUnder(field: string, keys: readonly string[]): boolean {
  return keys.some((k) => field === k || field.startsWith(`${k}.`));
}

/** The same error with the value left out of its message. */
function hideSecretValue(e: InputError): InputError {
  const hidden = new InputError(e.field, SECRET_VALUE_SHOWN, e.rule);
  hidden.message = `${e.field} ${SECRET_VALUE_SHOWN} is invalid: ${e.rule}`;
  return hidden;
}

function rebuild(errors: InputError[]): InputError {
  return errors.length === 1 ? errors[0] : new InputErrors(errors);
}

/**
 * The top-level keys of a stack file (Pulumi.<stack>.yaml), the "Attributes" of
 * https://www.pulumi.com/docs/iac/concepts/projects/stack-settings-file/.
 */
export const STACK_FILE_KEYS = [
  "config",
  "encryptedkey",
  "encryptionsalt",
  "environment",
  "secretsprovider",
] as const;

/**
 * Checks the top-level keys of a parsed stack file: the Pulumi CLI ignores an unknown one, so
 * `configs:` would silently drop every setting under it. `file` names the file in messages.
 */
export function checkStackFileKeys(doc: Record<string, unknown>, file: string): void {
  const known: readonly string[] = STACK_FILE_KEYS;
  throwIfAny(
    Object.keys(doc)
      .filter((k) => !known.includes(k))
      .map(
        (k) =>
          new InputError(
            file,
            k,
            `is not a known top-level key of a stack file${didYouMean(k, known)}; known: ${known.join(", ")}`,
          ),
      ),
  );
}

/** ` (did you mean hpc-batch:<key>?)` for a close `hpc-batch:*` key, compared without the namespace. */
function suggestKey(fullKey: string): string {
  const close = closestKey(fullKey.slice(PROJECT.length + 1), CONFIG_KEYS);
  return close === undefined ? "" : ` (did you mean ${PROJECT}:${close}?)`;
}

function parseStackConfigValues(raw: Record<string, unknown>): StackSettings {
  const errors: InputError[] = [];
  const known = CONFIG_KEYS.map(key);
  for (const k of Object.keys(raw).sort()) {
    if (k.startsWith(`${PROJECT}:`) && !known.includes(k))
      errors.push(
        new InputError(
          k,
          raw[k],
          `is not a known ${PROJECT} setting${suggestKey(k)}; known keys: ${[...known].sort().join(", ")}`,
        ),
      );
  }
  const get = (k: keyof typeof CONFIG_DEFAULTS): unknown => raw[key(k)] ?? CONFIG_DEFAULTS[k];

  const location = collect(errors, () =>
    validateLocation("azure-native:location", raw["azure-native:location"]),
  );
  const resourceGroupName = optionalName(
    raw,
    "resourceGroupName",
    validateResourceGroupName,
    errors,
  );
  const storageAccountName = optionalName(
    raw,
    "applicationStorageAccountName",
    validateStorageAccountName,
    errors,
  );
  const batchAccountName = optionalName(raw, "batchAccountName", validateBatchAccountName, errors);
  const poolName = optionalName(raw, "batchAccountPoolName", validatePoolName, errors);
  const pool = parsePool(key("pool"), get("pool"), errors);
  const tags = parseTags(key("tags"), get("tags"), errors);
  const publicNetworkAccess = collect(errors, () =>
    validatePublicNetworkAccess(key("publicNetworkAccess"), get("publicNetworkAccess")),
  );
  const deployerPrincipalType = collect(errors, () =>
    validatePrincipalType(key("deployerPrincipalType"), get("deployerPrincipalType")),
  );
  const deployerObjectIdRaw = get("deployerObjectId");
  const deployerObjectId =
    deployerObjectIdRaw === ""
      ? undefined
      : collect(errors, () => {
          if (typeof deployerObjectIdRaw !== "string" || !GUID_RE.test(deployerObjectIdRaw))
            throw new InputError(key("deployerObjectId"), deployerObjectIdRaw, OBJECT_ID_RULE);
          return deployerObjectIdRaw;
        });
  const applicationId = collect(errors, () =>
    validateApplicationId(key("batchApplicationId"), get("batchApplicationId")),
  );
  const displayNameRaw = get("batchAccountApplicationName");
  const displayName =
    displayNameRaw === ""
      ? applicationId
      : collect(errors, () => {
          if (
            typeof displayNameRaw !== "string" ||
            displayNameRaw.length > 1024 ||
            displayNameRaw.trim() === ""
          )
            throw new InputError(
              key("batchAccountApplicationName"),
              displayNameRaw,
              DISPLAY_NAME_RULE,
            );
          return displayNameRaw;
        });
  const versionRaw = get("batchApplicationVersion");
  const version =
    versionRaw === ""
      ? undefined
      : collect(errors, () =>
          validateApplicationVersion(key("batchApplicationVersion"), versionRaw),
        );
  const folder = collect(errors, () => {
    const v = get("applicationFolder");
    if (typeof v !== "string" || v.trim() === "")
      throw new InputError(key("applicationFolder"), v, FOLDER_RULE);
    return v;
  });
  const retainVersions = collect(errors, () =>
    validateRetainVersions(key("retainVersions"), get("retainVersions")),
  );
  const promote = collect(errors, () => validatePromote(key("promote"), get("promote")));

  throwIfAny(errors);
  const settings: StackSettings = {
    location: location!,
    pool,
    tags,
    publicNetworkAccess: publicNetworkAccess!,
    deployerPrincipalType: deployerPrincipalType!,
    application: {
      id: applicationId!,
      displayName: displayName!,
      folder: folder!,
      retainVersions: retainVersions!,
      promote: promote!,
    },
  };
  if (resourceGroupName !== undefined) settings.resourceGroupName = resourceGroupName;
  if (storageAccountName !== undefined) settings.storageAccountName = storageAccountName;
  if (batchAccountName !== undefined) settings.batchAccountName = batchAccountName;
  if (poolName !== undefined) settings.poolName = poolName;
  if (version !== undefined) settings.application.version = version;
  if (deployerObjectId !== undefined) settings.deployerObjectId = deployerObjectId;
  return settings;
}
