/**
 * The plan document: what `hpc-batch plan` gathered, as `plan.json` holds it (lib/plan/render/
 * renders it). Its types, and how it is built from what the simulated program registered: each
 * resource's redacted inputs, options and the settings a reviewer reads (the ones that decide
 * cost and risk first), the roles, a pool's way of taking changes, the rollout text, in a stable
 * order. Pure and deterministic: the same program gives the same document, so a plan diff is a
 * stack diff.
 *
 * Secrets: an input the program marked secret, an output that is secret, a property whose name
 * says it holds a key, token or password, and a URL carrying a SAS signature all become
 * `[secret]`; `assertNoSecrets` then checks each rendered text against every known secret value.
 */
import { roleNamesById } from "../core/roles";
import { PACKAGE_VERSION_TYPE } from "./planState";
import type { Registration } from "./simulate";

export const SECRET = "[secret]";
const POOL_TYPE = "azure-native:batch:Pool";
export const PLAN_FORMAT = "hpc-batch-plan/1";

/** Property names that hold credentials whatever the program says (ARM and azuread shapes). */
const SECRET_NAME =
  /^(primaryKey|secondaryKey|primaryAccessKey|secondaryAccessKey|accountKey|keys|password|clientSecret|connectionString|primaryConnectionString|secondaryConnectionString|sasToken|sasUrl|storageUrl|accessToken)$/i;
/** A URL with a shared access signature. */
const SAS_URL = /^https?:\/\/[^?\s]+\?[^\s]*\bsig=/i;
/** Inputs never shown: a dynamic provider's serialized code. */
const HIDDEN_INPUTS = new Set(["__provider"]);

export interface PlanResource {
  urn: string;
  type: string;
  /** Logical (Pulumi) name. */
  name: string;
  /** URN of the parent component, when there is one. */
  parent?: string;
  component: boolean;
  /** The settings that matter for review (SKU, VM size, image, node counts, app version...). */
  settings: Record<string, string>;
  /** A pool only: which changes apply in place (PATCH) and which replace it (`poolUpdates`). */
  updates?: string;
  /** Every input as the provider would receive it, secrets as `[secret]`. */
  inputs: Record<string, unknown>;
  /** Non-default resource options. */
  options: Record<string, unknown>;
  /** URNs this resource depends on (explicitly or through its inputs). */
  dependsOn: string[];
  /** Properties whose values are plan stand-ins for what Azure computes. */
  standIns: string[];
}

export interface PlanOutput {
  value: unknown;
  secret: boolean;
  /** True when the value is or contains a plan stand-in. */
  standIn: boolean;
}

export interface PlanPackage {
  applicationId: string;
  version: string;
  /** Where the version came from: stack config, or computed from the commits. */
  versionSource: string;
  file: string;
  sha256: string;
  bytes: number;
  files: number;
  /** Files staged into the folder from npm packages first (its stage.json). */
  staged: { to: string; from: string }[];
  /** When the version becomes the default and which nodes get it when (rolloutText). */
  rollout?: string[];
}

export interface PlanViolation {
  policy: string;
  level: "mandatory" | "advisory";
  urn: string;
  message: string;
}

export interface PlanPolicies {
  /** False when no policy pack was available (then `note` says why). */
  ran: boolean;
  note?: string;
  violations: PlanViolation[];
}

export interface PlanDocument {
  format: typeof PLAN_FORMAT;
  project: string;
  stack: string;
  /** The stack's config after Pulumi.yaml defaults, secrets as `[secret]`. */
  config: Record<string, unknown>;
  resources: PlanResource[];
  outputs: Record<string, PlanOutput>;
  /**
   * The application package the deployment publishes. Another project's program (not the
   * hpc-batch stack) builds its own: shown when it registers exactly one package version,
   * absent otherwise.
   */
  package?: PlanPackage;
  policies: PlanPolicies;
  standIns: { subscriptionId: string; note: string };
}

export const STAND_IN_NOTE =
  "Values Azure computes at deployment (resource ids, endpoints, identity ids) are stand-ins made up by the plan (plan.json lists them per resource under standIns). The subscription is the all-zero GUID, so names generated from the subscription (storage and Batch account names that config leaves unset) differ in a real one.";

/** Replaces secret values: named credentials and SAS URLs, recursively. */
export function redact(value: unknown, name?: string): unknown {
  if (name !== undefined && SECRET_NAME.test(name) && value !== undefined && value !== "") {
    return SECRET;
  }
  if (typeof value === "string") return SAS_URL.test(value) ? SECRET : value;
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}

/** A resource's inputs for the plan: hidden ones dropped, secret ones `[secret]`. */
export function planInputs(reg: Registration): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(reg.inputs)) {
    if (HIDDEN_INPUTS.has(k)) continue;
    out[k] = reg.secretInputs.includes(k) ? SECRET : redact(v, k);
  }
  return out;
}

const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === "string" ? v : JSON.stringify(v);

function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Built-in roles hpc-batch assigns, by role definition GUID. */
const ROLES: Readonly<Record<string, string>> = roleNamesById([
  "storageBlobDataContributor",
  "storageBlobDataReader",
  "contributor",
  "userAccessAdministrator",
  "reader",
]);

/** Batch's default quota of dedicated cores per Batch account (batch-quota-limit). */
export const DEFAULT_DEDICATED_CORE_QUOTA = 20;

/**
 * vCPUs of a VM size from its name: the number after the family letters, or the constrained
 * count after a dash (Microsoft Learn, *Azure virtual machine sizes naming conventions*:
 * `Standard_D2s_v5` 2, `Standard_E64-16ds_v5` 16). Undefined when the name does not say.
 */
export function vmSizeCores(vmSize: string): number | undefined {
  const m = /^(?:Standard|Basic)_[A-Za-z]+(\d+)(?:-(\d+))?/.exec(vmSize);
  if (!m) return undefined;
  return Number(m[2] ?? m[1]);
}

/**
 * The node counts an autoscale formula can ask for, where it says so literally: a target
 * assigned a number, or `min(...)` of a number (or a variable assigned one) and anything else.
 * Batch never goes below 0. Undefined: the formula decides at run time, no literal bound.
 */
export function formulaBounds(
  formula: string,
): Record<"dedicated" | "spot", { min: number; max: number } | undefined> {
  const statements = formula
    .split(/;|\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  const literal: Record<string, number> = {};
  const assigned: Record<string, string> = {};
  for (const st of statements) {
    const m = /^(\$?\w+)\s*=\s*(.+)$/.exec(st);
    if (!m) continue;
    assigned[m[1]] = m[2].trim();
    if (/^\d+$/.test(m[2].trim())) literal[m[1]] = Number(m[2].trim());
  }
  const numberOf = (x: string) => (/^\d+$/.test(x) ? Number(x) : literal[x]);
  const bound = (target: string) => {
    const expr = assigned[target];
    if (expr === undefined) return undefined;
    const n = numberOf(expr);
    if (n !== undefined) return { min: n, max: n };
    const min = /^min\((.*)\)$/.exec(expr);
    if (!min) return undefined;
    const caps = min[1]
      .split(",")
      .map((a) => numberOf(a.trim()))
      .filter((v): v is number => v !== undefined);
    return caps.length ? { min: 0, max: Math.min(...caps) } : undefined;
  };
  return { dedicated: bound("$TargetDedicatedNodes"), spot: bound("$TargetLowPriorityNodes") };
}

function poolSettings(i: Record<string, unknown>): Record<string, string | undefined> {
  const vm = at(i, "deploymentConfiguration.virtualMachineConfiguration") as
    Record<string, unknown> | undefined;
  const img = (vm?.imageReference ?? {}) as Record<string, unknown>;
  const image =
    typeof img.id === "string"
      ? img.id
      : [img.publisher, img.offer, img.sku, img.version].every((x) => x !== undefined)
        ? `${img.publisher}/${img.offer}/${img.sku}/${img.version}`
        : undefined;
  const fixed = at(i, "scaleSettings.fixedScale") as Record<string, unknown> | undefined;
  const auto = at(i, "scaleSettings.autoScale") as Record<string, unknown> | undefined;
  type Range = { min: number; max: number } | undefined;
  let dedicated: Range;
  let spot: Range;
  let scale: string | undefined;
  let formula: string | undefined;
  if (fixed) {
    const d = Number(fixed.targetDedicatedNodes ?? 0);
    const s = Number(fixed.targetLowPriorityNodes ?? 0);
    dedicated = { min: d, max: d };
    spot = { min: s, max: s };
    scale = `fixed: ${d} dedicated, ${s} Spot`;
  } else if (auto) {
    formula = typeof auto.formula === "string" ? auto.formula : undefined;
    ({ dedicated, spot } = formula
      ? formulaBounds(formula)
      : { dedicated: undefined, spot: undefined });
    const range = (r: Range, what: string) =>
      r === undefined
        ? `${what} set by the formula`
        : `${r.min === r.max ? r.max : `${r.min} to ${r.max}`} ${what}`;
    scale = `autoscale every ${auto.evaluationInterval ?? "PT15M"}: ${range(dedicated, "dedicated")}, ${range(spot, "Spot")}`;
  }
  const vmSize = str(i.vmSize);
  const perNode = vmSize ? vmSizeCores(vmSize) : undefined;
  let cores: string | undefined;
  if (perNode !== undefined && (fixed || auto)) {
    const max = (r: Range) => (r === undefined ? "?" : `${r.max * perNode}`);
    const over = dedicated !== undefined && dedicated.max * perNode > DEFAULT_DEDICATED_CORE_QUOTA;
    cores =
      `up to ${max(dedicated)} dedicated (default quota ${DEFAULT_DEDICATED_CORE_QUOTA} per account), ` +
      `up to ${max(spot)} Spot; ${perNode} per node` +
      (over
        ? "; over the default quota: the pool stays below its target unless the quota is raised"
        : "");
  }
  const packages = Array.isArray(i.applicationPackages)
    ? (i.applicationPackages as { id?: string; version?: string }[])
        .map(
          (p) =>
            `${String(p.id ?? "")
              .split("/")
              .pop()} ${p.version ?? "(default)"}`,
        )
        .join(", ")
    : undefined;
  return {
    name: str(i.poolName),
    vmSize,
    image,
    nodeAgentSkuId: str(vm?.nodeAgentSkuId),
    scale,
    cores,
    formula: formula
      ?.split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .join(" "),
    taskSlotsPerNode: str(i.taskSlotsPerNode),
    applicationPackages: packages || undefined,
    nodeCommunication: str(i.targetNodeCommunicationMode),
  };
}

/** `key=value, ...` of a tags object, in its order. */
function tagsText(tags: unknown): string | undefined {
  if (!tags || typeof tags !== "object" || Array.isArray(tags)) return undefined;
  const entries = Object.entries(tags as Record<string, unknown>);
  return entries.length ? entries.map(([k, v]) => `${k}=${String(v)}`).join(", ") : undefined;
}

/** Names of ARM resource types in a scope, for review. */
const SCOPE_TYPES: Record<string, string> = {
  storageAccounts: "storage account",
  batchAccounts: "Batch account",
  resourceGroups: "resource group",
  subscriptions: "subscription",
  containers: "blob container",
};

/** `storage account stx` from an ARM scope id. */
export function scopeText(scope: unknown): string | undefined {
  if (typeof scope !== "string") return undefined;
  const parts = scope.split("/").filter(Boolean);
  if (parts.length < 2) return scope;
  const [type, name] = parts.slice(-2);
  return `${SCOPE_TYPES[type] ?? type} ${name}`;
}

/** Who a principal id is, when the plan made it up (lib/plan/planState describe). */
export type DescribePrincipal = (id: string) => string | undefined;

/** The settings of a resource worth reading in review, as short strings. */
export function keySettings(
  reg: Registration,
  describe: DescribePrincipal = () => undefined,
): Record<string, string> {
  // Read from the redacted inputs: a setting taken from a secret shows as [secret].
  const i = planInputs(reg);
  let s: Record<string, string | undefined>;
  switch (reg.type) {
    case "azure-native:resources:ResourceGroup":
      s = { name: str(i.resourceGroupName), location: str(i.location) };
      break;
    case "azure-native:storage:StorageAccount":
      s = {
        name: str(i.accountName),
        sku: str(at(i, "sku.name")),
        kind: str(i.kind),
        allowSharedKeyAccess: str(i.allowSharedKeyAccess),
        minimumTlsVersion: str(i.minimumTlsVersion),
        allowBlobPublicAccess: str(i.allowBlobPublicAccess),
      };
      break;
    case "azure-native:batch:BatchAccount":
      s = {
        name: str(i.accountName),
        poolAllocationMode: str(i.poolAllocationMode),
        authentication: Array.isArray(i.allowedAuthenticationModes)
          ? i.allowedAuthenticationModes.join(", ")
          : undefined,
        autoStorage: str(at(i, "autoStorage.authenticationMode")),
        publicNetworkAccess: str(i.publicNetworkAccess),
      };
      break;
    case "azure-native:batch:Pool":
      s = poolSettings(i);
      break;
    case "azure-native:batch:Application":
      s = {
        name: str(i.applicationName),
        displayName: str(i.displayName),
        allowUpdates: str(i.allowUpdates),
        defaultVersion: str(i.defaultVersion),
      };
      break;
    case "azure-native:batch:ApplicationPackage":
      s = { application: str(i.applicationName), version: str(i.versionName) };
      break;
    case PACKAGE_VERSION_TYPE:
      s = {
        application: str(i.applicationId),
        version: str(i.version),
        sha256: str(i.sha256),
        setDefault: str(i.setDefault),
        retainVersions: str(i.retainVersions),
      };
      break;
    case "azure-native:managedidentity:UserAssignedIdentity":
      s = { name: str(i.resourceName) };
      break;
    case "azure-native:authorization:RoleAssignment": {
      const guid =
        String(i.roleDefinitionId ?? "")
          .split("/")
          .pop() ?? "";
      const principal = typeof i.principalId === "string" ? i.principalId : undefined;
      s = {
        role: ROLES[guid] ?? (guid || undefined),
        principal: principal && (describe(principal) ?? principal),
        principalType: str(i.principalType),
        scope: scopeText(i.scope),
      };
      break;
    }
    default: {
      // Anything else: its first few plain, non-secret inputs.
      s = {};
      const scalars = Object.entries(i).filter(
        ([, v]) => v !== SECRET && ["string", "number", "boolean"].includes(typeof v),
      );
      for (const [k, v] of scalars.slice(0, 4)) s[k] = str(v);
    }
  }
  if (reg.type.startsWith("azure-native:")) s.tags = tagsText(i.tags);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  return out;
}

/** Review names of pool properties (Pulumi names), for `poolUpdates`. */
const POOL_PROPERTY_LABELS: Record<string, string> = {
  scaleSettings: "scale",
  startTask: "start task",
  applicationPackages: "application packages",
  tags: "tags",
  metadata: "metadata",
  vmSize: "VM size",
  deploymentConfiguration: "image and node agent",
  networkConfiguration: "network",
  taskSlotsPerNode: "task slots per node",
  userAccounts: "user accounts",
  mountConfiguration: "mounts",
  interNodeCommunication: "inter-node communication",
  identity: "node identity",
  targetNodeCommunicationMode: "node communication mode",
};

/**
 * How a Batch pool takes changes, from its options: `ignoreChanges` are the settings the pool's
 * settings resource PATCHes in place (components/pool.ts), `replaceOnChanges` plus the pool id
 * replace it. Sorted, so the plan stays stable.
 */
export function poolUpdates(reg: Registration): string {
  const label = (p: string) => POOL_PROPERTY_LABELS[p] ?? p;
  const byName = (a: string, b: string) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1);
  const inPlace = reg.options.ignoreChanges.map(label).sort(byName);
  const replaces = [...reg.options.replaceOnChanges.map(label), "pool id"].sort(byName);
  return `in place (PATCH): ${inPlace.join(", ") || "none"}; replaces the pool (deletes its nodes): ${replaces.join(", ")}`;
}

/** The non-default options of a registration. */
export function planOptions(reg: Registration): Record<string, unknown> {
  const o = reg.options;
  const out: Record<string, unknown> = {};
  if (o.protect) out.protect = true;
  if (o.retainOnDelete) out.retainOnDelete = true;
  if (o.deleteBeforeReplace) out.deleteBeforeReplace = true;
  if (o.replaceOnChanges.length) out.replaceOnChanges = [...o.replaceOnChanges];
  if (o.ignoreChanges.length) out.ignoreChanges = [...o.ignoreChanges];
  if (o.additionalSecretOutputs.length)
    out.additionalSecretOutputs = [...o.additionalSecretOutputs];
  if (o.provider) out.provider = o.provider;
  return out;
}

/**
 * Registrations in a stable order, whatever order the engine's promises resolved in (which varies
 * from run to run): each after its parent and what it depends on, ties by type then name. Keeps
 * plan.json and plan.md diffable between pull requests.
 */
export function stableOrder(regs: readonly Registration[]): Registration[] {
  const byUrn = new Map(regs.map((r) => [r.urn, r]));
  const key = (r: Registration) => `${r.type}\u0000${r.name}`;
  const pending = [...regs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const placed = new Set<string>();
  const out: Registration[] = [];
  const ready = (r: Registration) =>
    [r.parent, ...r.options.dependsOn].every((u) => !u || !byUrn.has(u) || placed.has(u));
  while (pending.length > 0) {
    // A cycle cannot happen in a Pulumi program; fall back to the first pending one regardless.
    const i = Math.max(0, pending.findIndex(ready));
    const [r] = pending.splice(i, 1);
    placed.add(r.urn);
    out.push(r);
  }
  return out;
}

export function planResource(
  reg: Registration,
  standIns: string[],
  describe?: DescribePrincipal,
): PlanResource {
  return {
    urn: reg.urn,
    type: reg.type,
    name: reg.name,
    ...(reg.parent ? { parent: reg.parent } : {}),
    component: !reg.custom,
    settings: reg.custom ? keySettings(reg, describe) : {},
    ...(reg.type === POOL_TYPE ? { updates: poolUpdates(reg) } : {}),
    inputs: reg.custom ? planInputs(reg) : {},
    options: planOptions(reg),
    dependsOn: [...new Set(reg.options.dependsOn)].sort(),
    standIns,
  };
}

/**
 * What a release does to nodes, from what the program registered: when the new version becomes
 * the application's default, and which pools get it when. Package references (and a new default)
 * reach a pool's nodes only when they join, reboot or are reimaged (Batch PoolPatchParameter
 * docs; batch-facts.md); task-level references are installed when the task runs.
 */
export function rolloutText(
  registrations: { type: string; name: string; inputs: Record<string, unknown> }[],
): string[] {
  const lines: string[] = [];
  for (const pkg of registrations.filter((r) => r.type.endsWith(":ApplicationPackageVersion"))) {
    const app = String(pkg.inputs.applicationId);
    const version = String(pkg.inputs.version);
    if (pkg.inputs.setDefault === false) {
      lines.push(
        `${app} ${version} is published and active, never made the default (setDefault false)`,
      );
    } else if (pkg.inputs.promote === "after-canary") {
      lines.push(
        `${app} ${version} becomes the default version once \`hpc-batch verify --promote\` has run a ` +
          "smoke task that references it on the pool (the first release: once active)",
      );
    } else {
      lines.push(`${app} ${version} becomes the default version once active`);
    }
    const suffix = new RegExp(`/applications/${app}$`, "i");
    for (const pool of registrations.filter((r) => r.type === "azure-native:batch:Pool")) {
      const refs = Array.isArray(pool.inputs.applicationPackages)
        ? (pool.inputs.applicationPackages as { id?: unknown; version?: unknown }[])
        : [];
      const ref = refs.find((r) => typeof r.id === "string" && (suffix.test(r.id) || r.id === app));
      if (!ref) continue;
      const name = String(pool.inputs.poolName ?? pool.name);
      lines.push(
        ref.version === undefined
          ? `pool ${name} references ${app} without a version: its nodes install the default when ` +
              "they join, reboot or are reimaged; running nodes keep theirs until then " +
              "(`hpc-batch set-default --stack <stack> --version <version> --reboot-idle-nodes` rolls the idle ones); the pool itself is not changed"
          : `pool ${name} pins ${app} ${String(ref.version)}: a new version changes the pool ` +
              "(PATCH of its package references), and its nodes get it when they join, reboot or are reimaged",
      );
    }
  }
  return lines;
}

/** The settings that decide cost and risk, per type (the summary a reviewer reads first). */
const DECIDING: Record<string, string[]> = {
  "azure-native:resources:ResourceGroup": ["name", "location", "tags"],
  "azure-native:storage:StorageAccount": ["name", "sku", "allowSharedKeyAccess", "tags"],
  "azure-native:batch:BatchAccount": ["name", "publicNetworkAccess", "tags"],
  [POOL_TYPE]: ["vmSize", "scale", "cores", "formula", "tags"],
  [PACKAGE_VERSION_TYPE]: ["application", "version", "setDefault"],
  "azure-native:authorization:RoleAssignment": ["role", "principal", "scope"],
};

/** The deciding settings of a resource (empty for the types that have none worth a line). */
export function decidingSettings(r: { type: string; settings: Record<string, string> }) {
  const out: Record<string, string> = {};
  for (const k of DECIDING[r.type] ?? []) if (r.settings[k] !== undefined) out[k] = r.settings[k];
  return out;
}

/** Throws if any known secret value appears in a rendering (a bug in the redaction). */
export function assertNoSecrets(text: string, secrets: string[]): void {
  for (const s of secrets) {
    if (s.length >= 4 && text.includes(s)) {
      throw new Error("the plan would contain a secret value; refusing to write it");
    }
  }
}
