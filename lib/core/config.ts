/**
 * Stack config: parses and validates every `hpc-batch:*` key (and `azure-native:location`) from a
 * plain object of raw values into typed `StackSettings`. Pure: `index.ts` gathers the raw values
 * (`pulumi.runtime.allConfig()`) and calls `parseStackConfig`; nothing here reads config itself.
 *
 * Every problem is collected and reported at once (`InputErrors`), one
 * `<field> <value> is invalid: <rule>` line each, before any resource is registered. The pool
 * rules, which `components/pool.ts` applies to its args too, are in `poolRules.ts`.
 */
import { CONFIG_DEFAULTS } from "./defaults";
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
import { checkPoolSpec, POOL_SETTING_KEYS } from "./poolRules";
import { validateRetainVersions } from "./retention";
import { closestKey, collect, didYouMean, isPlainObject, unknownKeys } from "./validate";

export const PROJECT = "hpc-batch";

// InputErrors and throwIfAny live in lib/core/errors.ts; re-exported for the modules importing them here.
export { InputErrors, throwIfAny };

// ---------------------------------------------------------------------------------------------
// Value rules
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

export { CONFIG_DEFAULTS };

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
    // Config values may arrive as text ("5").
    validateRetainVersions(key("retainVersions"), get("retainVersions"), { fromText: true }),
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
