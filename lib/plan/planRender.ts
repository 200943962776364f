/**
 * Turns what `hpc-batch plan` gathered into its three renderings: `plan.json` (machine-readable),
 * `plan.md` (a pull-request comment or job summary, with a Mermaid diagram) and the console tree.
 * Pure and deterministic: the same plan gives the same bytes, so a plan diff is a stack diff.
 *
 * Secrets: an input the program marked secret, an output that is secret, a property whose name
 * says it holds a key, token or password, and a URL carrying a SAS signature all render as
 * `[secret]`; `assertNoSecrets` then checks the rendered text against every known secret value.
 */
import { roleNamesById } from "../core/roles";
import type { ChangeKind, PlanDiff, ResourceChange } from "./planDiff";
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
  package: PlanPackage;
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

// ---------------------------------------------------------------------------------------------
// Renderings
// ---------------------------------------------------------------------------------------------

export function renderJson(doc: PlanDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

interface TreeNode {
  r: PlanResource;
  children: TreeNode[];
}

/** Resources as a forest: components with their children, in registration order. */
export function resourceTree(resources: PlanResource[]): TreeNode[] {
  const nodes = new Map(resources.map((r) => [r.urn, { r, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const r of resources) {
    const n = nodes.get(r.urn)!;
    const parent = r.parent ? nodes.get(r.parent) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  return roots;
}

const settingsText = (settings: Record<string, string>, code: (s: string) => string) =>
  Object.entries(settings)
    .map(([k, v]) => `${k}: ${code(v)}`)
    .join(", ");

function outputText(o: PlanOutput): string {
  if (o.secret) return SECRET;
  return typeof o.value === "string" ? o.value : JSON.stringify(o.value);
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function counts(doc: PlanDocument) {
  const components = doc.resources.filter((r) => r.component).length;
  const mandatory = doc.policies.violations.filter((v) => v.level === "mandatory").length;
  const advisory = doc.policies.violations.length - mandatory;
  return { components, custom: doc.resources.length - components, mandatory, advisory };
}

function policySummary(doc: PlanDocument): string {
  const c = counts(doc);
  if (!doc.policies.ran) return `not run (${doc.policies.note})`;
  if (c.mandatory + c.advisory === 0) return "no violations";
  return `${c.mandatory} mandatory and ${c.advisory} advisory violation(s)`;
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

/** How each kind of change reads, and its mark (as `pulumi preview` marks them). */
export const CHANGE_LABELS: Record<ChangeKind, { label: string; mark: string }> = {
  replace: { label: "replace", mark: "+-" },
  delete: { label: "delete", mark: "-" },
  update: { label: "update in place", mark: "~" },
  create: { label: "create", mark: "+" },
  unchanged: { label: "unchanged", mark: " " },
};

/** Formats a value for one line: JSON (strings quoted), `(none)` when absent. */
export function valueText(v: unknown): string {
  return v === undefined ? "(none)" : JSON.stringify(v);
}

/**
 * `old -> new` on one line. Multi-line strings (an autoscale formula, a start task script) show
 * only the lines that differ.
 */
export function changeText(p: { old?: unknown; new?: unknown }): string {
  if (typeof p.old === "string" && typeof p.new === "string" && /\n/.test(p.old + p.new)) {
    const olds = p.old.split("\n");
    const news = p.new.split("\n");
    const gone = olds.filter((l) => !news.includes(l)).join("\n");
    const added = news.filter((l) => !olds.includes(l)).join("\n");
    return `${valueText(gone)} -> ${valueText(added)} (changed lines)`;
  }
  return `${valueText(p.old)} -> ${valueText(p.new)}`;
}

/** One line per changed property: `path: old -> new`, with how the resource takes it. */
export function propertyLines(c: ResourceChange): string[] {
  const how: Record<string, string> = {
    replace: " (replaces)",
    update: "",
    ignored: " (ignoreChanges: applied by the pool's settings resource)",
    none: " (no effect by itself)",
  };
  return c.properties.map((p) => `${p.path}: ${changeText(p)}${how[p.effect]}`);
}

/** The change's label; a replacement that keeps the old one says so. */
const kindLabel = (c: ResourceChange) =>
  c.keepsOld ? "replace (the old one is kept)" : CHANGE_LABELS[c.kind].label;

function diffHeadline(diff: PlanDiff): string {
  const parts = (["replace", "delete", "update", "create"] as ChangeKind[])
    .filter((k) => diff.counts[k] > 0)
    .map((k) => `${diff.counts[k]} to ${CHANGE_LABELS[k].label}`);
  return `${parts.length ? parts.join(", ") : "no changes"}, ${diff.counts.unchanged} unchanged`;
}

/** The diff as console lines. */
function diffText(diff: PlanDiff): string[] {
  const lines = [
    `Changes against stack ${diff.base.stack} (package ${diff.base.version} -> ${diff.head.version}): ${diffHeadline(diff)}`,
  ];
  for (const c of diff.resources.filter((x) => x.kind !== "unchanged")) {
    lines.push(`${CHANGE_LABELS[c.kind].mark.padStart(2)} ${c.name}  ${c.type}  (${kindLabel(c)})`);
    for (const p of propertyLines(c)) lines.push(`      ${p}`);
    for (const q of c.consequences) lines.push(`      ! ${q}`);
  }
  for (const v of diff.policies.failing) {
    lines.push(`   policy now failing: [${v.level}] ${v.policy}: ${v.message}`);
  }
  for (const v of diff.policies.fixed) lines.push(`   policy now passing: ${v.policy}`);
  return lines;
}

/** The console rendering: the changes (with a base), the tree, the outputs, package, policies. */
export function renderText(doc: PlanDocument, diff?: PlanDiff): string {
  const lines: string[] = [];
  const c = counts(doc);
  lines.push(
    `Plan for ${doc.project} (stack ${doc.stack}): ${doc.resources.length} resources, ${c.components} components and ${c.custom} Azure resources`,
  );
  if (diff) lines.push("", ...diffText(diff), "");
  const walk = (nodes: TreeNode[], indent: string) => {
    nodes.forEach((n, idx) => {
      const last = idx === nodes.length - 1;
      const settings = settingsText(n.r.settings, (s) => s);
      lines.push(
        `${indent}${last ? "└─ " : "├─ "}${n.r.name}  ${n.r.type}${settings ? `  (${settings})` : ""}`,
      );
      const below = `${indent}${last ? "   " : "│  "}`;
      if (n.r.updates) lines.push(`${below}   changes: ${n.r.updates}`);
      walk(n.children, below);
    });
  };
  walk(resourceTree(doc.resources), "");
  lines.push("", "Stack outputs:");
  for (const [k, o] of Object.entries(doc.outputs)) {
    lines.push(`  ${k}: ${outputText(o)}${o.standIn ? " †" : ""}`);
  }
  const p = doc.package;
  lines.push(
    "",
    `Package: ${p.applicationId} ${p.version} (${p.versionSource}), ${p.file}, ${humanBytes(p.bytes)}, ${p.files} files, sha256 ${p.sha256}`,
  );
  for (const f of p.staged) lines.push(`  staged ${f.to} from ${f.from}`);
  for (const r of p.rollout ?? []) lines.push(`  rollout: ${r}`);
  lines.push(`Policies: ${policySummary(doc)}`);
  for (const v of doc.policies.violations) {
    lines.push(`  [${v.level}] ${v.policy}: ${v.message} (${v.urn})`);
  }
  lines.push("", `† ${STAND_IN_NOTE}`);
  return `${lines.join("\n")}\n`;
}

const mdCode = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const mdCell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Mermaid classes for the change marks. */
const MERMAID_CLASSES: Partial<Record<ChangeKind, string>> = {
  create: "fill:#e6ffed,stroke:#2da44e",
  update: "fill:#fff8c5,stroke:#bf8700",
  replace: "fill:#ffebe9,stroke:#cf222e,stroke-width:3px",
  delete: "fill:#eeeeee,stroke:#cf222e,stroke-dasharray:5 5",
};

/**
 * A Mermaid flowchart: components as subgraphs, data-flow edges between Azure resources; each
 * node shows its logical name, short type and deciding settings, and with a diff, its change
 * (mark and colour; deleted resources are drawn apart, dashed).
 */
export function renderMermaid(doc: PlanDocument, diff?: PlanDiff): string {
  const ids = new Map(doc.resources.map((r, i) => [r.urn, `r${i}`]));
  const kinds = new Map((diff?.resources ?? []).map((c) => [c.key, c]));
  const keyOf = (urn: string) => urn.replace(/^urn:pulumi:[^:]*::/, "");
  const quote = (s: string) => `"${s.replace(/"/g, "#quot;")}"`;
  const label = (
    r: { name: string; type: string; settings: Record<string, string> },
    kind?: ChangeKind,
  ) => {
    const mark = kind && kind !== "unchanged" ? `${CHANGE_LABELS[kind].mark} ` : "";
    const shown = Object.entries(decidingSettings(r))
      .filter(([k]) => ["vmSize", "scale", "sku", "version", "role"].includes(k))
      .map(([, v]) => v);
    return quote([`${mark}${r.name}`, shortTypeOf(r.type), ...shown].join("<br/>"));
  };
  const lines = ["flowchart LR"];
  const marked: [string, ChangeKind][] = [];
  const walk = (nodes: TreeNode[], indent: string) => {
    for (const n of nodes) {
      const id = ids.get(n.r.urn)!;
      if (n.r.component) {
        lines.push(`${indent}subgraph ${id}[${label(n.r)}]`);
        walk(n.children, `${indent}  `);
        lines.push(`${indent}end`);
      } else {
        const kind = kinds.get(keyOf(n.r.urn))?.kind;
        lines.push(`${indent}${id}[${label(n.r, kind)}]`);
        if (kind && kind !== "unchanged") marked.push([id, kind]);
        walk(n.children, indent);
      }
    }
  };
  walk(resourceTree(doc.resources), "  ");
  (diff?.resources ?? [])
    .filter((c) => c.kind === "delete")
    .forEach((c, i) => {
      lines.push(`  d${i}[${label(c, "delete")}]`);
      marked.push([`d${i}`, "delete"]);
    });
  const custom = new Set(doc.resources.filter((r) => !r.component).map((r) => r.urn));
  for (const r of doc.resources) {
    if (r.component) continue;
    for (const dep of r.dependsOn) {
      if (custom.has(dep)) lines.push(`  ${ids.get(dep)} --> ${ids.get(r.urn)}`);
    }
  }
  for (const kind of Object.keys(MERMAID_CLASSES) as ChangeKind[]) {
    const members = marked.filter(([, k]) => k === kind).map(([id]) => id);
    if (members.length === 0) continue;
    lines.push(
      `  classDef ${kind} ${MERMAID_CLASSES[kind]}`,
      `  class ${members.join(",")} ${kind}`,
    );
  }
  return lines.join("\n");
}

const shortTypeOf = (type: string) => type.split(/[:/]/).pop() ?? type;

/** The changes section of plan.md: a table, then the consequences and the policy changes. */
function diffMarkdown(diff: PlanDiff): string[] {
  const out = [
    `## Changes against \`${diff.base.stack}\``,
    "",
    `${diffHeadline(diff)}; package \`${diff.base.version}\` -> \`${diff.head.version}\`.`,
    "",
  ];
  const changed = diff.resources.filter((c) => c.kind !== "unchanged");
  if (changed.length) {
    out.push("| Change | Resource | Type | What changes |", "| --- | --- | --- | --- |");
    for (const c of changed) {
      const what = propertyLines(c).map(mdCell).join("<br/>") || "—";
      out.push(
        `| ${CHANGE_LABELS[c.kind].mark.trim()} ${kindLabel(c)} | **${c.name}** | ${mdCode(shortTypeOf(c.type))} | ${what} |`,
      );
    }
  }
  const consequences = changed.filter((c) => c.consequences.length);
  if (consequences.length) {
    out.push("", "**What it does:**", "");
    for (const c of consequences) {
      for (const q of c.consequences)
        out.push(
          `- ${c.kind === "replace" || c.kind === "delete" ? "⚠️ " : ""}**${c.name}**: ${mdCell(q)}`,
        );
    }
  }
  if (diff.policies.failing.length) {
    out.push("", "**Policies now failing:**", "");
    for (const v of diff.policies.failing) {
      out.push(
        `- ⚠️ [${v.level}] ${mdCode(v.policy)} on ${mdCode(v.urn.split("::").pop() ?? v.urn)}: ${mdCell(v.message)}`,
      );
    }
  }
  if (diff.policies.fixed.length) {
    out.push(
      "",
      `Policies now passing: ${diff.policies.fixed.map((v) => mdCode(v.policy)).join(", ")}.`,
    );
  }
  out.push("");
  return out;
}

/** The pull-request comment / job summary: changes (with a base), deciding settings, details. */
export function renderMarkdown(doc: PlanDocument, diff?: PlanDiff): string {
  const c = counts(doc);
  const p = doc.package;
  const out: string[] = [];
  out.push(`# hpc-batch plan: stack \`${doc.stack}\``, "");
  out.push(
    `What \`pulumi up\` would deploy for project \`${doc.project}\`, evaluated offline: the real program, the Pulumi engine simulated in-process, no cloud credentials. Values Azure computes at deployment are stand-ins, marked †; secrets show as \`${SECRET}\`.`,
    "",
  );
  out.push(
    `**${doc.resources.length} resources** (${c.components} components, ${c.custom} Azure resources) · package \`${p.applicationId}\` \`${p.version}\` · policies: ${policySummary(doc)}`,
    "",
  );
  if (diff) out.push(...diffMarkdown(diff));
  out.push("## Deciding settings", "");
  for (const r of doc.resources) {
    const settings = decidingSettings(r);
    if (Object.keys(settings).length === 0) continue;
    out.push(`- **${r.name}** ${mdCode(shortTypeOf(r.type))} — ${settingsText(settings, mdCode)}`);
  }
  out.push("", "## Resources", "");
  const walk = (nodes: TreeNode[], indent: string) => {
    for (const n of nodes) {
      const settings = settingsText(n.r.settings, mdCode);
      out.push(`${indent}- **${n.r.name}** ${mdCode(n.r.type)}${settings ? ` — ${settings}` : ""}`);
      if (n.r.updates) out.push(`${indent}  - changes: ${n.r.updates}`);
      walk(n.children, `${indent}  `);
    }
  };
  walk(resourceTree(doc.resources), "");
  const outputs = Object.entries(doc.outputs);
  const row = ([k, o]: [string, PlanOutput]) =>
    `| ${mdCode(k)} | ${mdCell(mdCode(outputText(o)))}${o.standIn ? " †" : ""} |`;
  out.push("", "## Stack outputs", "", "| Output | Value |", "| --- | --- |");
  out.push(...outputs.filter(([, o]) => !o.standIn).map(row));
  const computed = outputs.filter(([, o]) => o.standIn);
  if (computed.length) {
    // Folded: made-up ids and endpoints are half the page and decide nothing.
    out.push(
      "",
      `<details><summary>${computed.length} outputs Azure computes (stand-ins †)</summary>`,
      "",
      "| Output | Value |",
      "| --- | --- |",
      ...computed.map(row),
      "",
      "</details>",
    );
  }
  out.push("", "## Application package", "");
  out.push(
    "| Application | Version | File | Size | Files | SHA-256 |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  out.push(
    `| ${mdCode(p.applicationId)} | ${mdCode(p.version)} (${p.versionSource}) | ${mdCode(p.file)} | ${humanBytes(p.bytes)} | ${p.files} | ${mdCode(p.sha256)} |`,
  );
  if (p.staged.length) {
    const list = p.staged.map((f) => `${mdCode(f.to)} from ${mdCode(f.from)}`).join(", ");
    out.push("", `Staged into the folder before packaging: ${list}.`);
  }
  if (p.rollout?.length) {
    out.push("", "Rollout:", "", ...p.rollout.map((r) => `- ${r}`));
  }
  out.push("", "## Policies", "");
  if (doc.policies.violations.length === 0) out.push(`Policies: ${policySummary(doc)}.`);
  else {
    out.push("| Level | Policy | Resource | Message |", "| --- | --- | --- | --- |");
    for (const v of doc.policies.violations) {
      const name = v.urn.split("::").pop() ?? v.urn;
      out.push(`| ${v.level} | ${mdCode(v.policy)} | ${mdCode(name)} | ${mdCell(v.message)} |`);
    }
  }
  out.push("", "## Diagram", "", "```mermaid", renderMermaid(doc, diff), "```", "");
  out.push(`† ${STAND_IN_NOTE}`, "");
  return out.join("\n");
}

/** Throws if any known secret value appears in a rendering (a bug in the redaction). */
export function assertNoSecrets(text: string, secrets: string[]): void {
  for (const s of secrets) {
    if (s.length >= 4 && text.includes(s)) {
      throw new Error("the plan would contain a secret value; refusing to write it");
    }
  }
}
