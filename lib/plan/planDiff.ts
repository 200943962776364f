/**
 * `hpc-batch plan --against <plan.json>`: what changes between two plans, resource by resource,
 * decided by the same rules Pulumi applies, and what each change does. Pure: two plan documents
 * in, one diff out (lib/plan/render/ renders it).
 *
 * How a changed input is taken, in the order Pulumi applies the rules:
 * 1. `ignoreChanges` of the registration (as plan.json records it): no change for this resource.
 *    The pool ignores its updatable settings; its PoolSettings resource PATCHes them instead.
 * 2. `replaceOnChanges` of the registration: replace (`deleteBeforeReplace`: delete first).
 * 3. The provider's own rules: azure-native replaces a resource when an input of its ARM URL path
 *    changes (pulumi/pulumi-azure-native#77) and updates it otherwise; hpc-batch's dynamic
 *    providers replace on the properties their `diff` lists (DYNAMIC_PROVIDERS) and act only on
 *    the properties they list.
 * Note: azure-native sends a changed `location` as an update, which ARM then refuses
 * (pulumi/pulumi-azure-native#3053); the diff says "update", as `pulumi up` would, with a warning.
 */
import {
  PLAN_FORMAT,
  SECRET,
  type PlanDocument,
  type PlanResource,
  type PlanViolation,
} from "./document";
import { InputError } from "../core/errors";
import { PACKAGE_VERSION_TYPE } from "./planState";

export type ChangeKind = "create" | "update" | "replace" | "delete" | "unchanged";

/** Display order of the kinds (the riskiest first). */
export const CHANGE_KINDS: ChangeKind[] = ["replace", "delete", "update", "create", "unchanged"];

export interface PropertyChange {
  /** Dotted input path: `vmSize`, `tags.environment`, `scaleSettings.autoScale.formula`. */
  path: string;
  /** Absent on one side: undefined. Secrets are `[secret]` (plan.json never holds them). */
  old?: unknown;
  new?: unknown;
  /**
   * `replace` or `update`: what it does to this resource. `ignored`: in the registration's
   * ignoreChanges (another resource applies it, e.g. the pool's settings PATCH). `none`: the
   * provider does not act on it (it goes along with a replacement).
   */
  effect: "replace" | "update" | "ignored" | "none";
}

export interface ResourceChange {
  /** The URN without its stack, which matches a resource across stacks. */
  key: string;
  type: string;
  name: string;
  kind: ChangeKind;
  properties: PropertyChange[];
  /** A replacement that deletes the old resource before creating the new one. */
  deleteFirst?: boolean;
  /**
   * A replacement whose delete removes nothing: a package version's delete leaves the version in
   * Batch (components/appPackageProvider), so a release is not a destructive replacement.
   */
  keepsOld?: boolean;
  /** What the change does, spelled out for the reviewer. */
  consequences: string[];
  /** Deciding settings: the head's (the base's for a deletion). */
  settings: Record<string, string>;
}

export interface PlanDiff {
  /** `version`: the plan's package version; absent when the plan shows no package. */
  base: { stack: string; version?: string };
  head: { stack: string; version?: string };
  /** Azure resources (components hold nothing), head order, then deletions in base order. */
  resources: ResourceChange[];
  counts: Record<ChangeKind, number>;
  policies: { failing: PlanViolation[]; fixed: PlanViolation[]; ran: boolean };
}

/** The pool's settings resource (components/poolSettingsProvider POOL_SETTINGS_TYPE). */
export const POOL_SETTINGS_TYPE = "pulumi-nodejs:dynamic/batch:PoolSettings";
const POOL_TYPE = "azure-native:batch:Pool";

/**
 * hpc-batch's dynamic providers, as their `diff` decides (tests/lib/plan/planDiff.test.ts keeps these
 * equal to the providers' own lists): `replaces` replace the resource, `updates` change it in
 * place, any other input changes nothing by itself.
 */
export const DYNAMIC_PROVIDERS: Record<string, { replaces: string[]; updates: string[] }> = {
  // components/appPackageProvider REPLACE_PROPERTIES / UPDATE_PROPERTIES (sha256: see below).
  [PACKAGE_VERSION_TYPE]: {
    replaces: ["subscriptionId", "resourceGroupName", "accountName", "applicationId", "version"],
    updates: ["displayName", "setDefault", "promote", "retainVersions"],
  },
  // components/poolSettingsProvider COORDINATES / POOL_SETTINGS (+ poolCreationTime: another pool).
  [POOL_SETTINGS_TYPE]: {
    replaces: ["subscriptionId", "resourceGroupName", "accountName", "poolName", "armEndpoint"],
    updates: ["scaleSettings", "startTask", "applicationPackages", "tags", "poolCreationTime"],
  },
};

/**
 * Inputs of the azure-native types hpc-batch uses that are part of the resource's ARM URL: a new
 * value is another resource (pulumi/pulumi-azure-native#77). A role assignment's principal and
 * role cannot be updated either (ARM: RoleAssignmentUpdateNotPermitted, Microsoft Learn
 * *Troubleshoot Azure RBAC*); azure-native replaces it.
 */
export const ARM_PATH_INPUTS: Record<string, string[]> = {
  "azure-native:resources:ResourceGroup": ["resourceGroupName"],
  "azure-native:storage:StorageAccount": ["resourceGroupName", "accountName"],
  "azure-native:storage:BlobServiceProperties": [
    "resourceGroupName",
    "accountName",
    "blobServicesName",
  ],
  "azure-native:storage:BlobContainer": ["resourceGroupName", "accountName", "containerName"],
  "azure-native:batch:BatchAccount": ["resourceGroupName", "accountName"],
  [POOL_TYPE]: ["resourceGroupName", "accountName", "poolName"],
  "azure-native:batch:Application": ["resourceGroupName", "accountName", "applicationName"],
  "azure-native:batch:ApplicationPackage": [
    "resourceGroupName",
    "accountName",
    "applicationName",
    "versionName",
  ],
  "azure-native:managedidentity:UserAssignedIdentity": ["resourceGroupName", "resourceName"],
  "azure-native:authorization:RoleAssignment": [
    "scope",
    "roleAssignmentName",
    "principalId",
    "roleDefinitionId",
  ],
};

/**
 * Inputs that mirror what Azure reported, not what the program asks for: the pool's settings
 * resource gets the pool's reported settings and creation time (components/poolSettingsProvider). They
 * change only with the pool itself (see `cascade`), so comparing their plan values means nothing.
 */
const MIRRORED_INPUTS: Record<string, string[]> = {
  [POOL_SETTINGS_TYPE]: ["reported", "poolCreationTime"],
};

/** The URN without `urn:pulumi:<stack>::`, so a resource matches across two stacks. */
export function resourceKey(urn: string): string {
  return urn.replace(/^urn:pulumi:[^:]*::/, "");
}

/** Whether `path` is covered by one of Pulumi's property paths (`a`, `a.b`, `a[0]`, `*`). */
function covered(path: string, paths: readonly string[]): boolean {
  return paths.some((p) => p === "*" || p === path || path.startsWith(`${p}.`));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Changed leaves between two input objects, by dotted path (arrays compare whole). */
export function changedPaths(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  prefix = "",
): { path: string; old?: unknown; new?: unknown }[] {
  const out: { path: string; old?: unknown; new?: unknown }[] = [];
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].sort();
  for (const k of keys) {
    const o = olds[k];
    const n = news[k];
    const path = `${prefix}${k}`;
    // Secrets are [secret] on both sides: plan.json cannot say whether they changed.
    if (o === SECRET && n === SECRET) continue;
    if (isObject(o) && isObject(n)) out.push(...changedPaths(o, n, `${path}.`));
    else if (!sameValue(o, n)) {
      out.push({
        path,
        ...(o === undefined ? {} : { old: o }),
        ...(n === undefined ? {} : { new: n }),
      });
    }
  }
  return out;
}

/** How the resource takes a change to `path` (see the module comment). */
export function effectOf(r: PlanResource, path: string): PropertyChange["effect"] {
  const ignore = (r.options.ignoreChanges as string[] | undefined) ?? [];
  const replaceOn = (r.options.replaceOnChanges as string[] | undefined) ?? [];
  if (covered(path, ignore)) return "ignored";
  if (covered(path, replaceOn)) return "replace";
  const dynamic = DYNAMIC_PROVIDERS[r.type];
  if (dynamic) {
    if (covered(path, dynamic.replaces)) return "replace";
    return covered(path, dynamic.updates) ? "update" : "none";
  }
  if (covered(path, ARM_PATH_INPUTS[r.type] ?? ["resourceGroupName"])) return "replace";
  return "update";
}

function compare(base: PlanResource, head: PlanResource): ResourceChange {
  const mirrored = MIRRORED_INPUTS[head.type] ?? [];
  const properties: PropertyChange[] = changedPaths(base.inputs, head.inputs)
    .filter((c) => !covered(c.path, mirrored))
    .map((c) => ({ ...c, effect: effectOf(head, c.path) }));
  const kind: ChangeKind = properties.some((p) => p.effect === "replace")
    ? "replace"
    : properties.some((p) => p.effect === "update")
      ? "update"
      : "unchanged";
  return {
    key: resourceKey(head.urn),
    type: head.type,
    name: head.name,
    kind,
    properties,
    ...(kind === "replace" && head.options.deleteBeforeReplace === true
      ? { deleteFirst: true }
      : {}),
    ...(kind === "replace" && head.type === PACKAGE_VERSION_TYPE ? { keepsOld: true } : {}),
    consequences: [],
    settings: head.settings,
  };
}

const violationKey = (v: PlanViolation) => `${v.policy}|${resourceKey(v.urn)}|${v.message}`;

/** Compares a base plan with a head plan (the change under review). */
export function diffPlans(base: PlanDocument, head: PlanDocument): PlanDiff {
  const custom = (doc: PlanDocument) => doc.resources.filter((r) => !r.component);
  const baseByKey = new Map(custom(base).map((r) => [resourceKey(r.urn), r]));
  const headKeys = new Set(custom(head).map((r) => resourceKey(r.urn)));
  const resources: ResourceChange[] = [];
  for (const r of custom(head)) {
    const old = baseByKey.get(resourceKey(r.urn));
    resources.push(
      old
        ? compare(old, r)
        : {
            key: resourceKey(r.urn),
            type: r.type,
            name: r.name,
            kind: "create",
            properties: [],
            consequences: [],
            settings: r.settings,
          },
    );
  }
  for (const r of custom(base)) {
    if (headKeys.has(resourceKey(r.urn))) continue;
    resources.push({
      key: resourceKey(r.urn),
      type: r.type,
      name: r.name,
      kind: "delete",
      properties: [],
      consequences: [],
      settings: r.settings,
    });
  }
  cascade(resources, head);
  for (const c of resources) c.consequences = consequences(c, base, head);
  const counts = Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
  for (const c of resources) counts[c.kind]++;
  const baseViolations = new Set(base.policies.violations.map(violationKey));
  const headViolations = new Set(head.policies.violations.map(violationKey));
  return {
    base: { stack: base.stack, version: base.package?.version },
    head: { stack: head.stack, version: head.package?.version },
    resources,
    counts,
    policies: {
      ran: head.policies.ran,
      failing: head.policies.violations.filter((v) => !baseViolations.has(violationKey(v))),
      fixed: base.policies.violations.filter((v) => !headViolations.has(violationKey(v))),
    },
  };
}

/**
 * Changes that follow from another resource's: a replaced (or new) pool is another pool
 * instance, so its settings resource updates (components/poolSettingsProvider diff: poolCreationTime)
 * and PATCHes whatever the new pool was created without (Pulumi creates it with the old values
 * of ignored properties, pulumi/pulumi pull 2657).
 */
function cascade(resources: ResourceChange[], head: PlanDocument): void {
  const byKey = new Map(head.resources.map((r) => [resourceKey(r.urn), r]));
  for (const c of resources) {
    if (c.type !== POOL_SETTINGS_TYPE || c.kind !== "unchanged") continue;
    const settings = byKey.get(c.key);
    const pool = resources.find(
      (p) =>
        p.type === POOL_TYPE &&
        (p.kind === "replace" || p.kind === "create") &&
        settings?.dependsOn.some((u) => resourceKey(u) === p.key),
    );
    if (!pool) continue;
    c.kind = "update";
    c.properties.push({
      path: "poolCreationTime",
      old: "(the old pool's)",
      new: "(the new pool's)",
      effect: "update",
    });
  }
}

/** The last segment of a type token: `Pool`, `StorageAccount`, `PoolSettings`. */
export function shortType(type: string): string {
  return type.split(/[:/]/).pop() ?? type;
}

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

function consequences(c: ResourceChange, base: PlanDocument, head: PlanDocument): string[] {
  const out: string[] = [];
  const gone = c.kind === "replace" || c.kind === "delete";
  const name = c.settings.name ?? c.name;
  switch (c.type) {
    case POOL_TYPE:
      if (c.kind === "replace") {
        out.push(
          `replaces pool ${name}: ${c.deleteFirst ? "deleted first (its id is fixed, so the new pool cannot exist beside it), " : ""}` +
            "with all its nodes and the tasks running on them; jobs wait until the new pool has nodes",
        );
      } else if (c.kind === "delete") {
        out.push(`deletes pool ${name} with all its nodes and the tasks running on them`);
      }
      {
        const ignored = [
          ...new Set(
            c.properties.filter((x) => x.effect === "ignored").map((x) => x.path.split(".")[0]),
          ),
        ];
        if (ignored.length) {
          out.push(
            `${ignored.join(", ")}: not sent by azure-native (ignoreChanges); the pool's settings resource PATCHes ${ignored.length > 1 ? "them" : "it"} in place`,
          );
        }
      }
      break;
    case POOL_SETTINGS_TYPE:
      if (c.kind === "update" && c.properties.every((p) => p.path === "poolCreationTime")) {
        out.push(
          `follows the new pool ${c.settings.poolName ?? ""}: PATCHes any setting it was created without ` +
            "(Pulumi creates it with the old values of the ignored settings)",
        );
      } else if (c.kind === "update") {
        const what = [...new Set(c.properties.map((p) => p.path.split(".")[0]))].join(", ");
        out.push(
          `PATCHes pool ${c.settings.poolName ?? ""} in place (${what}): no node is removed; a new start ` +
            "task or package reference reaches nodes when they join, reboot or are reimaged",
        );
      }
      break;
    case "azure-native:storage:StorageAccount":
      if (gone) {
        out.push(
          `${c.kind === "replace" ? "replaces" : "deletes"} storage account ${name}: every blob in it is lost ` +
            "(uploaded application packages, the Batch account's auto-storage)",
        );
      }
      break;
    case "azure-native:batch:BatchAccount":
      if (gone) {
        out.push(
          `${c.kind === "replace" ? "replaces" : "deletes"} Batch account ${name}: its applications and ` +
            "package versions, its pools (with their nodes), jobs and tasks are lost",
        );
      }
      break;
    case "azure-native:resources:ResourceGroup":
      if (gone)
        out.push(
          `${c.kind === "replace" ? "replaces" : "deletes"} resource group ${name} and everything in it`,
        );
      break;
    case PACKAGE_VERSION_TYPE:
      if (c.kind === "create" || c.kind === "replace") {
        const app = c.settings.application;
        const from = base.package?.version ?? "the old version";
        out.push(
          `publishes ${app} ${c.settings.version} as a new Batch package version` +
            (c.kind === "replace"
              ? `; ${from} stays in Batch (the old resource's delete leaves it; retention prunes old versions)`
              : ""),
        );
        out.push(...(head.package?.rollout ?? []));
      }
      if (
        c.properties.some((p) => p.path === "sha256") &&
        !c.properties.some((p) => p.effect === "replace")
      ) {
        out.push(
          `fails: version ${c.settings.version} is already published with other content; bump the version`,
        );
      }
      break;
    case "azure-native:authorization:RoleAssignment": {
      const grant = `${c.settings.role ?? "a role"} for ${c.settings.principal ?? "a principal"} on ${c.settings.scope ?? "its scope"}`;
      if (c.kind === "create") out.push(`grants ${grant}`);
      else if (c.kind === "delete") out.push(`revokes ${grant}`);
      else if (c.kind === "replace") out.push(`re-creates the assignment: ${grant}`);
      break;
    }
  }
  if (c.properties.some((p) => p.path === "location" && p.effect === "update")) {
    out.push(
      "location: azure-native sends this as an update, which ARM refuses (InvalidResourceLocation; pulumi/pulumi-azure-native#3053)",
    );
  }
  return out;
}

/** What `--fail-on` can stop on. */
export const FAIL_ON = ["replace", "delete", "policy"] as const;
export type FailOn = (typeof FAIL_ON)[number];

/**
 * Why the gate stops, one reason per tripped kind (empty: it passes). `replace`: a replacement
 * that deletes something (not a new package version, whose old version stays). `policy`: a
 * violation the base did not have (without a base: any). `replace` and `delete` need a diff.
 */
export function gateReasons(
  failOn: readonly FailOn[],
  head: PlanDocument,
  diff?: PlanDiff,
): string[] {
  const reasons: string[] = [];
  const label = (c: ResourceChange) => `${c.name} (${shortType(c.type)})`;
  if (diff && failOn.includes("replace")) {
    const replaced = diff.resources.filter((c) => c.kind === "replace" && !c.keepsOld);
    if (replaced.length) {
      const why = (c: ResourceChange) =>
        c.properties
          .filter((p) => p.effect === "replace")
          .map((p) => `${p.path} ${changeText(p)}`)
          .join(", ");
      reasons.push(`replaces ${replaced.map((c) => `${label(c)}: ${why(c)}`).join("; ")}`);
    }
  }
  if (diff && failOn.includes("delete")) {
    const deleted = diff.resources.filter((c) => c.kind === "delete");
    if (deleted.length) reasons.push(`deletes ${deleted.map(label).join(", ")}`);
  }
  if (failOn.includes("policy")) {
    const failing = diff ? diff.policies.failing : head.policies.violations;
    if (failing.length) {
      const names = failing.map((v) => `${v.policy} (${v.level}) on ${v.urn.split("::").pop()}`);
      reasons.push(`policy now failing: ${names.join(", ")}`);
    }
  }
  return reasons;
}

/** Reads a base plan (`--against <file>`); anything else is bad input naming the rule. */
export function parseBasePlan(text: string, file: string): PlanDocument {
  const rule = `must be a plan.json written by hpc-batch plan (format ${PLAN_FORMAT})`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError("--against", file, `${rule}: ${(err as Error).message}`);
  }
  const d = doc as Partial<PlanDocument> | null;
  if (
    !d ||
    d.format !== PLAN_FORMAT ||
    !Array.isArray(d.resources) ||
    !d.policies ||
    ("package" in d && !d.package)
  ) {
    throw new InputError("--against", file, rule);
  }
  return d as PlanDocument;
}
