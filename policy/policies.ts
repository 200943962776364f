/**
 * The hpc-batch policies as plain data and pure checks. Two hosts run the same checks:
 * - `policy/index.ts`, the CrossGuard pack that `pulumi preview|up --policy-pack policy` starts;
 * - `policy/runner.ts`, which `hpc-batch plan` calls on the registrations of a simulated stack.
 * Importing this module starts nothing: `@pulumi/policy` is imported for its types only, because
 * constructing its `PolicyPack` starts a gRPC server (node_modules/@pulumi/policy/policy.js).
 *
 * A check sees a resource's inputs exactly as the Pulumi engine sends them to a pack's
 * `validateResource`, and returns one message per violation. Each message names the resource,
 * the offending value and the setting that fixes it.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { isRetiredNodeAgent, RETIRED_NODE_AGENTS } from "../lib/core/config";
import { InputError, renderValue } from "../lib/core/errors";

/** The two levels a violation can have (CrossGuard's `remediate` reports as mandatory). */
export type Level = "mandatory" | "advisory";

/** Enforcement levels a policy can be configured to, as in a `--policy-pack-config` file. */
export const ENFORCEMENT_LEVELS = ["advisory", "mandatory", "remediate", "disabled"] as const;
export type EnforcementLevel = (typeof ENFORCEMENT_LEVELS)[number];

/** One resource as a check sees it: its type token, logical name, URN and inputs. */
export interface PolicyResource {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
}

export interface PolicyContext {
  /** The stack being deployed (`dev`, `prod`, ...). */
  stack: string;
  /** This policy's settings, defaults applied (see `configSchema`). */
  config: Record<string, unknown>;
}

/** A policy of the pack: the metadata CrossGuard shows plus a pure check. */
export interface HpcPolicy {
  /** Unique, kebab-case; the key of this policy in a policy config file. */
  name: string;
  description: string;
  enforcementLevel: Level;
  /** The resource type tokens it checks; every other resource is not applicable. */
  resourceTypes: readonly string[];
  /** Settings a team may change in a policy config file, with their defaults. */
  configSchema?: PolicyConfigSchema;
  /** Violation messages for one resource; empty when the resource complies. */
  check(resource: PolicyResource, ctx: PolicyContext): string[];
}

/** Resource type tokens the pack knows. */
export const TYPES = {
  resourceGroup: "azure-native:resources:ResourceGroup",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
  storageAccount: "azure-native:storage:StorageAccount",
  blobContainer: "azure-native:storage:BlobContainer",
  batchAccount: "azure-native:batch:BatchAccount",
  pool: "azure-native:batch:Pool",
  application: "azure-native:batch:Application",
  /** Every dynamic resource has this token; the application package one carries `allowUpdates`. */
  dynamic: "pulumi-nodejs:dynamic:Resource",
  /** hpc-batch's own package version (components/appPackage.ts), a dynamic resource. */
  packageVersion: "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
} as const;

/** How messages name each kind of resource. */
const KINDS: Record<string, string> = {
  [TYPES.resourceGroup]: "resource group",
  [TYPES.roleAssignment]: "role assignment",
  [TYPES.identity]: "managed identity",
  [TYPES.storageAccount]: "storage account",
  [TYPES.blobContainer]: "blob container",
  [TYPES.batchAccount]: "Batch account",
  [TYPES.pool]: "pool",
  [TYPES.application]: "application",
  [TYPES.dynamic]: "application package",
  [TYPES.packageVersion]: "application package version",
};

/**
 * The type token without an explicit API version: `azure-native:storage/v20230101:StorageAccount`
 * is checked like `azure-native:storage:StorageAccount`, so pinning a version cannot skip a policy.
 */
export function baseType(type: string): string {
  return type.replace(/^(azure-native:[A-Za-z0-9]+)\/v\d{8}(?:preview)?:/, "$1:");
}

/** The stack part of a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): string {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn);
  return m ? m[1] : "";
}

// ---------------------------------------------------------------------------------------------
// Helpers that keep each check to a few readable lines.

function label(r: PolicyResource): string {
  return `${KINDS[baseType(r.type)] ?? r.type} "${r.name}"`;
}

/** The value at a property path, or undefined when any step is missing. */
function at(obj: unknown, ...path: string[]): unknown {
  let v: unknown = obj;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** `<resource>: <prop> is <value>; set <prop>: <expected> <why>.` — the shape of most messages. */
function setting(r: PolicyResource, prop: string, expected: string, why: string): string {
  const actual = at(r.props, ...prop.split("."));
  return `${label(r)}: ${prop} is ${renderValue(actual)}; set ${prop}: ${expected} ${why}.`;
}

/** A check that a property has exactly one value. */
function mustEqual(prop: string, expected: unknown, why: string) {
  return (r: PolicyResource): string[] =>
    at(r.props, ...prop.split(".")) === expected
      ? []
      : [setting(r, prop, JSON.stringify(expected), why)];
}

// ---------------------------------------------------------------------------------------------
// Storage

const storageHttpsOnly: HpcPolicy = {
  name: "storage-https-only",
  description: "Storage accounts accept HTTPS requests only.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  check: mustEqual("enableHttpsTrafficOnly", true, "so the account refuses plain HTTP"),
};

/** TLS 1.2 or later; the storage service has no minimum above 1.2 yet, but 1.3 would also do. */
const TLS_1_2_OR_LATER = ["TLS1_2", "TLS1_3"];

const storageMinimumTls: HpcPolicy = {
  name: "storage-minimum-tls-1-2",
  description: "Storage accounts refuse TLS versions older than 1.2.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  check: (r) =>
    TLS_1_2_OR_LATER.includes(r.props.minimumTlsVersion as string)
      ? []
      : [
          setting(
            r,
            "minimumTlsVersion",
            '"TLS1_2"',
            "so clients cannot fall back to TLS 1.0 or 1.1",
          ),
        ],
};

const storageNoPublicBlobAccess: HpcPolicy = {
  name: "storage-no-public-blob-access",
  description: "No blob or container can be read anonymously.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount, TYPES.blobContainer],
  check: (r) => {
    if (baseType(r.type) === TYPES.storageAccount) {
      return mustEqual(
        "allowBlobPublicAccess",
        false,
        "so no container can be opened to anonymous readers",
      )(r);
    }
    // Unset means "None" for a container, and the account-level switch above overrides it anyway.
    const access = r.props.publicAccess;
    return access === undefined || access === "None"
      ? []
      : [setting(r, "publicAccess", '"None"', "so its blobs cannot be read anonymously")];
  },
};

const storageNoSharedKey: HpcPolicy = {
  name: "storage-no-shared-key",
  description:
    "Storage accounts accept Microsoft Entra ID tokens only: no account keys, no key-signed SAS.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  // Unset means "allowed" (see allowSharedKeyAccess in azure-native's storageAccount.d.ts).
  check: mustEqual(
    "allowSharedKeyAccess",
    false,
    "so only Microsoft Entra ID tokens are accepted (no account keys, no key-signed SAS)",
  ),
};

// ---------------------------------------------------------------------------------------------
// Batch account

const batchEntraOnly: HpcPolicy = {
  name: "batch-entra-only-auth",
  description: "Batch accounts accept Microsoft Entra ID tokens only on their data plane.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.batchAccount],
  // Unset or empty leaves Batch's default, which includes SharedKey; TaskAuthenticationToken is
  // retired (Azure/Batch#140). So the only compliant value is exactly ["AAD"].
  check: (r) => {
    const modes = r.props.allowedAuthenticationModes;
    const ok = Array.isArray(modes) && modes.length > 0 && modes.every((m) => m === "AAD");
    return ok
      ? []
      : [
          setting(
            r,
            "allowedAuthenticationModes",
            '["AAD"]',
            "so the Batch API accepts only Microsoft Entra ID tokens (no shared keys)",
          ),
        ];
  },
};

const batchAutoStorageIdentity: HpcPolicy = {
  name: "batch-auto-storage-managed-identity",
  description:
    "A Batch account reaches its auto-storage account with a managed identity, not keys.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.batchAccount],
  check: (r) => {
    if (r.props.autoStorage === undefined) return []; // no auto-storage, nothing to reach
    // azure-native fills in authenticationMode "StorageKeys" when it is left out.
    const mode = at(r.props, "autoStorage", "authenticationMode");
    if (mode !== "BatchAccountManagedIdentity") {
      return [
        setting(
          r,
          "autoStorage.authenticationMode",
          '"BatchAccountManagedIdentity"',
          "so Batch reaches the storage account with its managed identity instead of the account keys",
        ),
      ];
    }
    const identity = at(r.props, "identity", "type");
    if (identity === "UserAssigned" || identity === "SystemAssigned") return [];
    return [
      setting(
        r,
        "identity.type",
        '"UserAssigned"',
        "with an identity that holds Storage Blob Data Contributor on the storage account: " +
          "auto-storage through BatchAccountManagedIdentity has no other way in",
      ),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Pools

// The retired node agents: one list, shared with the stack config's check (lib/core/config.ts).
export { RETIRED_NODE_AGENTS };

const SUPPORTED_EXAMPLE =
  'imageReference { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: "server" } ' +
  'with nodeAgentSkuId: "batch.node.ubuntu 24.04"';

const poolSupportedNodeAgent: HpcPolicy = {
  name: "pool-supported-node-agent",
  description: "Pools run a node agent (operating system) that Azure Batch still supports.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  check: (r) => {
    const path = "deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId";
    const agent = at(r.props, ...path.split("."));
    if (typeof agent !== "string" || agent.trim() === "") {
      return [`${label(r)}: ${path} is ${renderValue(agent)}; use ${SUPPORTED_EXAMPLE}.`];
    }
    return isRetiredNodeAgent(agent)
      ? [
          `${label(r)}: nodeAgentSkuId ${renderValue(agent)} is retired by Azure Batch ` +
            `(no new nodes, no support); use ${SUPPORTED_EXAMPLE}.`,
        ]
      : [];
  },
};

const poolSimplifiedCommunication: HpcPolicy = {
  name: "pool-simplified-node-communication",
  description: "Pools use simplified node communication: no inbound ports on the nodes.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  // Unset or "Default" leaves the choice to Batch; classic mode is being retired.
  check: mustEqual(
    "targetNodeCommunicationMode",
    "Simplified",
    "so nodes need no inbound ports (classic node communication is retired)",
  ),
};

export const DEFAULT_MAX_NODES_PER_POOL = 50;

/**
 * The node counts of a fixed-scale pool, read from ARM's properties. Messages name the settings a
 * user edits instead (`dedicatedNodes`, `spotNodes`: hpc-batch:pool and the BatchPool args).
 */
function fixedScale(r: PolicyResource): { dedicated: number; spot: number } | undefined {
  const fixed = at(r.props, "scaleSettings", "fixedScale");
  if (fixed === undefined) return undefined;
  const count = (v: unknown) => (typeof v === "number" && v > 0 ? v : 0);
  return {
    dedicated: count(at(fixed, "targetDedicatedNodes")),
    spot: count(at(fixed, "targetLowPriorityNodes")),
  };
}

const poolMaxNodes: HpcPolicy = {
  name: "pool-max-nodes",
  description:
    "A fixed-scale pool asks for at most maxNodes nodes, dedicated and Spot together. " +
    "Autoscale pools are not checked: their size is decided by the formula at run time.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  configSchema: {
    properties: {
      maxNodes: {
        type: "integer",
        minimum: 1,
        default: DEFAULT_MAX_NODES_PER_POOL,
        description:
          "Most nodes (dedicatedNodes + spotNodes of hpc-batch:pool) one pool may ask for.",
      },
    },
  },
  check: (r, { config }) => {
    const scale = fixedScale(r);
    if (!scale) return [];
    const max = config.maxNodes as number;
    const total = scale.dedicated + scale.spot;
    if (total <= max) return [];
    return [
      `${label(r)}: fixedScale asks for ${total} nodes (${scale.dedicated} dedicated + ` +
        `${scale.spot} Spot), more than the cap of ${max} per pool; lower dedicatedNodes ` +
        `or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.`,
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Application packages

const applicationNoUpdates: HpcPolicy = {
  name: "application-no-updates",
  description: "Published application package versions are immutable (allowUpdates: false).",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.application, TYPES.dynamic, TYPES.packageVersion],
  check: (r) => {
    // Among other dynamic resources only one that manages an application carries allowUpdates.
    if (baseType(r.type) === TYPES.dynamic && !("allowUpdates" in r.props)) return [];
    // Unset means true for Batch, so it must be written out.
    return mustEqual(
      "allowUpdates",
      false,
      "so a published package version can never be overwritten in place",
    )(r);
  },
};

// ---------------------------------------------------------------------------------------------
// Role assignments

/**
 * Built-in roles that manage everything in their scope (Owner, Contributor) or grant any role in
 * it (User Access Administrator, Role Based Access Control Administrator). GUIDs are the same in
 * every tenant (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
 */
export const PRIVILEGED_ROLES: Readonly<Record<string, string>> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
  "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
};

/** The two privileged roles whose reach an ABAC `condition` can limit to chosen roles. */
const DELEGATING_ROLES = [
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
];

/** Built-in blob data roles: each reads (or writes) every blob its scope holds. */
export const BLOB_DATA_ROLES: Readonly<Record<string, string>> = {
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
  "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
};

/** The root scope, a management group or a subscription: scopes that span many resources. */
const BROAD_SCOPE_RE =
  /^(\/|\/providers\/Microsoft\.Management\/managementGroups\/[^/]+\/?|\/subscriptions\/[^/]+\/?)$/i;
/** One storage account, or one container in it. */
const STORAGE_SCOPE_RE =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+(\/blobServices\/default(\/containers\/[^/]+)?)?\/?$/i;

const roleAssignmentScope: HpcPolicy = {
  name: "role-assignment-scope",
  description:
    "Role assignments are the narrowest that work: no Owner, Contributor or unconditioned access " +
    "administration on a subscription or wider, and blob data roles on one storage account.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.roleAssignment],
  check: (r) => {
    const scope = r.props.scope;
    const roleId = r.props.roleDefinitionId;
    // Unknown until the scope's resource exists (preview); checked again with real values on up.
    if (typeof scope !== "string" || typeof roleId !== "string") return [];
    const guid = (roleId.split("/").pop() ?? "").toLowerCase();
    const privileged = PRIVILEGED_ROLES[guid];
    if (privileged && BROAD_SCOPE_RE.test(scope)) {
      const limited = DELEGATING_ROLES.includes(guid) && typeof r.props.condition === "string";
      if (!limited) {
        return [
          `${label(r)}: ${privileged} at scope ${renderValue(scope)} reaches every resource ` +
            "below it; assign a narrower role on the one resource that needs it (for blobs, " +
            "Storage Blob Data Contributor on the storage account)" +
            (DELEGATING_ROLES.includes(guid)
              ? ", or add a condition that limits which roles it may assign."
              : "."),
        ];
      }
    }
    const blobRole = BLOB_DATA_ROLES[guid];
    if (blobRole && !STORAGE_SCOPE_RE.test(scope)) {
      return [
        `${label(r)}: ${blobRole} at scope ${renderValue(scope)} reaches the blobs of every ` +
          "storage account below it; set scope to the one storage account's id " +
          "(/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).",
      ];
    }
    return [];
  },
};

// ---------------------------------------------------------------------------------------------
// Advisory

export const DEFAULT_DEV_STACK_PATTERN = "(^|[-_.])(dev|test|ci|sandbox)([-_.0-9]|$)";

const devStackSpotNodes: HpcPolicy = {
  name: "dev-stack-spot-nodes",
  description: "Development stacks run their fixed-scale pools on Spot nodes, not dedicated ones.",
  enforcementLevel: "advisory",
  resourceTypes: [TYPES.pool],
  configSchema: {
    properties: {
      devStackPattern: {
        type: "string",
        format: "regex",
        default: DEFAULT_DEV_STACK_PATTERN,
        description: "Regular expression (case-insensitive) matching development stack names.",
      },
    },
  },
  check: (r, { stack, config }) => {
    if (!new RegExp(config.devStackPattern as string, "i").test(stack)) return [];
    const scale = fixedScale(r);
    if (!scale || scale.dedicated === 0) return [];
    return [
      `${label(r)}: stack "${stack}" is a development stack but asks for ${scale.dedicated} ` +
        `dedicated node${scale.dedicated === 1 ? "" : "s"}; set dedicatedNodes: 0 and use spotNodes ` +
        `(hpc-batch:pool) instead, which cost a fraction as much.`,
    ];
  },
};

/**
 * Top-level (tracked) resources. Pools and applications live inside their Batch account, whose
 * tags carry their cost: Batch-managed pool VMs are billed to the account.
 */
const TAGGED_TYPES = [
  TYPES.resourceGroup,
  TYPES.identity,
  TYPES.storageAccount,
  TYPES.batchAccount,
] as const;

const requiredTags: HpcPolicy = {
  name: "required-tags",
  description:
    "Top-level resources carry tags (by default any; requiredKeys names the keys that must be there).",
  enforcementLevel: "advisory",
  resourceTypes: TAGGED_TYPES,
  configSchema: {
    properties: {
      requiredKeys: {
        type: "array",
        items: { type: "string", minLength: 1 },
        default: [],
        description: "Tag keys every top-level resource must carry with a non-empty value.",
      },
    },
  },
  check: (r, { config }) => {
    const tags = r.props.tags;
    const present =
      tags && typeof tags === "object"
        ? Object.entries(tags).filter(([, v]) => typeof v === "string" && v !== "")
        : [];
    if (present.length === 0) {
      return [
        `${label(r)}: tags is ${renderValue(tags)}; set tags (for example ` +
          `{ app: "hpc-batch", stack: "dev" }) so its cost and owner can be traced.`,
      ];
    }
    const keys = new Set(present.map(([k]) => k));
    const missing = (config.requiredKeys as string[]).filter((k) => !keys.has(k));
    return missing.length === 0
      ? []
      : [
          `${label(r)}: tags lack ${missing.map((k) => JSON.stringify(k)).join(", ")}; ` +
            `add them (required by the required-tags policy config).`,
        ];
  },
};

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

// ---------------------------------------------------------------------------------------------
// Policy config: the same shape as a `pulumi up --policy-pack-config <file>` file.

/** `{ "<policy>": "<level>" | { enforcementLevel?, ...settings } }` */
export type PolicyPackConfig = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** One policy's resolved config: its level and its settings with defaults applied. */
export interface ResolvedPolicyConfig {
  enforcementLevel: EnforcementLevel;
  settings: Record<string, unknown>;
}

/** Why a value breaks its JSON schema, for the subset of JSON schema the pack's settings use. */
function schemaRule(schema: Record<string, unknown>, value: unknown): string | undefined {
  switch (schema.type) {
    case "integer":
      if (!Number.isInteger(value)) return "must be an integer";
      if (typeof schema.minimum === "number" && (value as number) < schema.minimum)
        return `must be an integer of at least ${schema.minimum}`;
      return undefined;
    case "string":
      if (typeof value !== "string") return "must be a string";
      if (typeof schema.minLength === "number" && value.length < schema.minLength)
        return "must be a non-empty string";
      if (schema.format === "regex") {
        try {
          new RegExp(value);
        } catch {
          return "must be a valid regular expression";
        }
      }
      return undefined;
    case "array": {
      const items = (schema.items ?? {}) as Record<string, unknown>;
      const ok = Array.isArray(value) && value.every((v) => schemaRule(items, v) === undefined);
      return ok
        ? undefined
        : `must be an array of ${items.minLength ? "non-empty " : ""}${items.type}s`;
    }
    default:
      return undefined;
  }
}

/**
 * Resolves one policy's entry of a policy config: level and settings, defaults applied.
 * Throws `InputError` naming the key for an unknown setting, a wrong type or an unknown level,
 * as the Pulumi CLI does when it validates a policy config against `configSchema`.
 */
export function resolvePolicyConfig(
  policy: HpcPolicy,
  entry?: PolicyPackConfig[string],
): ResolvedPolicyConfig {
  const given: Record<string, unknown> =
    entry === undefined ? {} : typeof entry === "string" ? { enforcementLevel: entry } : entry;
  const field = `policy config ${policy.name}`;
  const properties = (policy.configSchema?.properties ?? {}) as Record<
    string,
    Record<string, unknown>
  >;
  const settings: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(properties)) settings[key] = schema.default;
  let level: EnforcementLevel = policy.enforcementLevel;
  for (const [key, value] of Object.entries(given)) {
    if (key === "enforcementLevel") {
      if (!ENFORCEMENT_LEVELS.includes(value as EnforcementLevel))
        throw new InputError(
          `${field}.enforcementLevel`,
          value,
          `must be one of ${ENFORCEMENT_LEVELS.join(", ")}`,
        );
      level = value as EnforcementLevel;
      continue;
    }
    const schema = properties[key];
    if (!schema) {
      const known = ["enforcementLevel", ...Object.keys(properties)].join(", ");
      throw new InputError(field, key, `must be one of this policy's settings: ${known}`);
    }
    const rule = schemaRule(schema, value);
    if (rule) throw new InputError(`${field}.${key}`, value, rule);
    settings[key] = value;
  }
  return { enforcementLevel: level, settings };
}

/** The level a violation is reported at, or undefined when the policy is disabled. */
export function reportedLevel(level: EnforcementLevel): Level | undefined {
  if (level === "disabled") return undefined;
  return level === "advisory" ? "advisory" : "mandatory"; // remediate: no remediation, so enforce
}

// ---------------------------------------------------------------------------------------------
// CrossGuard adapter (used by policy/index.ts; a plain function so it can be tested here).

/**
 * The CrossGuard form of a policy. The Pulumi CLI has already validated the pack's config
 * against `configSchema` and applies the enforcement level itself; `getConfig()` returns the
 * settings (without `enforcementLevel`), which are resolved again here for the defaults.
 */
export function toResourceValidationPolicy(policy: HpcPolicy): ResourceValidationPolicy {
  return {
    name: policy.name,
    description: policy.description,
    enforcementLevel: policy.enforcementLevel,
    ...(policy.configSchema ? { configSchema: policy.configSchema } : {}),
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      if (!policy.resourceTypes.includes(baseType(args.type))) {
        args.notApplicable(`applies only to ${policy.resourceTypes.join(", ")}`);
      }
      const { settings } = resolvePolicyConfig(policy, args.getConfig<Record<string, unknown>>());
      const resource = { type: args.type, name: args.name, urn: args.urn, props: args.props };
      const ctx = { stack: stackOfUrn(args.urn), config: settings };
      for (const message of policy.check(resource, ctx)) reportViolation(message);
    },
  };
}
