/**
 * Azure and Batch name rules (one rule, one place) and the names hpc-batch generates when a stack
 * sets none. Pure: no Pulumi, no network.
 *
 * Rules (Azure naming rules, and ../shared/reference/batch-facts.md for Batch):
 * - resource group: 1 to 90 letters, digits, `-`, `_`, `.`, `(`, `)`; must not end with `.`
 * - storage account and Batch account: 3 to 24 lowercase letters and digits
 * - pool id, Batch application id: 1 to 64 letters, digits, `-`, `_`
 * - application version: 1 to 64 letters, digits, `-`, `_`, `.` (no `+`)
 */
import { createHash } from "node:crypto";
import { InputError } from "./errors";

export const RESOURCE_GROUP_NAME_RULE =
  "must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'";
export const ACCOUNT_NAME_RULE = "must be 3 to 24 lowercase letters and digits";
export const POOL_NAME_RULE = "must be 1 to 64 letters, digits, '-' or '_'";
export const APPLICATION_ID_RULE = "must be 1 to 64 letters, digits, '-' or '_'";
export const APPLICATION_VERSION_RULE =
  "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)";

const RESOURCE_GROUP_RE = /^[\p{L}\p{N}\-_.()]{1,90}$/u;
const ACCOUNT_RE = /^[a-z0-9]{3,24}$/;
/** An Entra or Azure id: subscription, tenant, object (any case, with hyphens). */
export const GUID_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Pool ids and Batch application ids. */
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Application versions: the REST spec's `^[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$`, at most 64. */
export const VERSION_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

function check(field: string, value: unknown, ok: (v: string) => boolean, rule: string): string {
  if (typeof value !== "string" || !ok(value)) throw new InputError(field, value, rule);
  return value;
}

/** Returns `value` if it is a valid resource group name, else throws an InputError. */
export function validateResourceGroupName(field: string, value: unknown): string {
  return check(
    field,
    value,
    (v) => RESOURCE_GROUP_RE.test(v) && !v.endsWith("."),
    RESOURCE_GROUP_NAME_RULE,
  );
}

/** Returns `value` if it is a valid storage account name, else throws an InputError. */
export function validateStorageAccountName(field: string, value: unknown): string {
  return check(field, value, (v) => ACCOUNT_RE.test(v), ACCOUNT_NAME_RULE);
}

/** Returns `value` if it is a valid Batch account name, else throws an InputError. */
export function validateBatchAccountName(field: string, value: unknown): string {
  return check(field, value, (v) => ACCOUNT_RE.test(v), ACCOUNT_NAME_RULE);
}

/** Returns `value` if it is a valid Batch pool id, else throws an InputError. */
export function validatePoolName(field: string, value: unknown): string {
  return check(field, value, (v) => ID_RE.test(v), POOL_NAME_RULE);
}

/** Returns `value` if it is a valid Batch application id, else throws an InputError. */
export function validateApplicationId(field: string, value: unknown): string {
  return check(field, value, (v) => ID_RE.test(v), APPLICATION_ID_RULE);
}

/** Returns `value` if it is a valid Batch application package version, else throws an InputError. */
export function validateApplicationVersion(field: string, value: unknown): string {
  return check(field, value, (v) => VERSION_RE.test(v), APPLICATION_VERSION_RULE);
}

// ---------------------------------------------------------------------------------------------
// Generated names
// ---------------------------------------------------------------------------------------------

/** What a generated name must be unique across. Case does not matter (Azure names ignore it). */
export interface NameScope {
  subscriptionId: string;
  resourceGroupName: string;
  project: string;
  stack: string;
}

/** Hex characters of the hash in a generated storage or Batch account name. */
const HASH_LENGTH = 10;

/** First `length` hex characters of a SHA-256 over the lower-cased parts. */
export function shortHash(parts: readonly string[], length: number = HASH_LENGTH): string {
  const text = parts.map((p) => p.toLowerCase()).join("\n");
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, length);
}

/** Cuts `name` to `max` characters, replacing the tail with `-<8 hex>` so cut names stay unique. */
function fit(name: string, max: number, hashParts: readonly string[]): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9)}-${shortHash(hashParts, 8)}`;
}

/**
 * The resource group name used when `hpc-batch:resourceGroupName` is unset: `rg-<project>-<stack>`
 * (resource groups are unique per subscription, and project + stack already are).
 */
export function defaultResourceGroupName(project: string, stack: string): string {
  const raw = `rg-${project}-${stack}`.replace(/[^\p{L}\p{N}\-_.()]/gu, "-");
  const name = fit(raw, 90, ["resourceGroup", project, stack]).replace(/\.+$/, "");
  return validateResourceGroupName("generated resource group name", name);
}

/** The pool id used when `hpc-batch:batchAccountPoolName` is unset: `<project>-<stack>-pool`. */
export function defaultPoolName(project: string, stack: string): string {
  const raw = `${project}-${stack}-pool`.replace(/[^A-Za-z0-9_-]/g, "-");
  return validatePoolName("generated pool name", fit(raw, 64, ["pool", project, stack]));
}

/** The kinds of globally or regionally unique account names hpc-batch generates. */
export type AccountKind = "storageAccount" | "batchAccount";

const ACCOUNT_PREFIX: Record<AccountKind, string> = { storageAccount: "st", batchAccount: "ba" };

/**
 * A storage or Batch account name for when config sets none: `st`/`ba`, up to 12 letters and
 * digits of `<project><stack>`, then 10 hex characters of a hash of the subscription, resource
 * group, project, stack and kind. Deterministic (re-runs keep the name), valid (3 to 24 lowercase
 * letters and digits) and different for every subscription + resource group + stack.
 */
export function defaultAccountName(kind: AccountKind, scope: NameScope): string {
  const prefix = ACCOUNT_PREFIX[kind];
  const readable = `${scope.project}${scope.stack}`
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, 24 - prefix.length - HASH_LENGTH);
  const hash = shortHash([
    scope.subscriptionId,
    scope.resourceGroupName,
    scope.project,
    scope.stack,
    kind,
  ]);
  return validateStorageAccountName(`generated ${kind} name`, `${prefix}${readable}${hash}`);
}

// ---------------------------------------------------------------------------------------------
// Deterministic GUIDs (role assignment names)
// ---------------------------------------------------------------------------------------------

/** Namespace of hpc-batch's name-based GUIDs (a fixed random UUID; never change it). */
export const HPC_BATCH_GUID_NAMESPACE = "9ba6ade0-a7bc-4e16-8abc-a11ae09bc7d5";

/** A name-based UUID, version 5 (RFC 9562 section 5.5: SHA-1 of namespace + name). */
export function uuidV5(namespace: string, name: string): string {
  const ns = namespace.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(ns)) throw new InputError("namespace", namespace, "must be a UUID");
  const hash = createHash("sha1")
    .update(Buffer.from(ns, "hex"))
    .update(name, "utf8")
    .digest()
    .subarray(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString("hex");
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join("-");
}

/**
 * The name (a GUID) of a role assignment, derived from its scope, principal and role definition
 * GUID, like ARM templates' `guid(scope, principalId, roleId)`: the same triple always gives the
 * same name, so a re-run updates the assignment instead of adding a duplicate.
 */
export function roleAssignmentName(
  scope: string,
  principalId: string,
  roleDefinitionGuid: string,
): string {
  return uuidV5(
    HPC_BATCH_GUID_NAMESPACE,
    [scope, principalId, roleDefinitionGuid].map((p) => p.toLowerCase()).join("|"),
  );
}

/**
 * True for an https URL without credentials, query or fragment: an endpoint a bearer token may
 * be sent to. The one check behind every endpoint flag, arg and output.
 */
export function isHttpsEndpoint(value: unknown): boolean {
  if (typeof value !== "string") return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "https:" && !url.username && !url.password && !url.search && !url.hash;
}

/** The rule of every Resource Manager endpoint: a component's `armEndpoint`, `--arm-endpoint`. */
export const ARM_ENDPOINT_RULE =
  "must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com";

/**
 * An https URL without credentials, query or fragment, answered as given; else an InputError
 * naming `field` with ARM_ENDPOINT_RULE.
 */
export function validateArmEndpoint(field: string, value: unknown): string {
  if (!isHttpsEndpoint(value)) throw new InputError(field, value, ARM_ENDPOINT_RULE);
  return value as string;
}

/** The rule of every `--batch-endpoint` flag. */
export const BATCH_ENDPOINT_RULE =
  "must be the Batch account's endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL";

/**
 * A Batch account endpoint as the account reports it (`<name>.<region>.batch.azure.com`, no
 * scheme) or as an https URL: answers the https URL without trailing slashes. Throws InputError
 * naming `field` for any other scheme or a URL with credentials, query or fragment.
 */
export function validateBatchEndpoint(field: string, value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  if (!isHttpsEndpoint(withScheme)) throw new InputError(field, value, BATCH_ENDPOINT_RULE);
  const url = new URL(withScheme); // lowercases the scheme and host
  return `${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, "");
}

/** ARM id of a Batch account: `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Batch/batchAccounts/<account>`. */
export function batchAccountResourceId(
  subscriptionId: string,
  resourceGroup: string,
  account: string,
): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Batch/batchAccounts/${account}`;
}

/** ARM id of a Batch application, as a pool's package reference names it. */
export function batchApplicationResourceId(
  subscriptionId: string,
  resourceGroup: string,
  account: string,
  application: string,
): string {
  return `${batchAccountResourceId(subscriptionId, resourceGroup, account)}/applications/${application}`;
}
