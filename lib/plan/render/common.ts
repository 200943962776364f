/**
 * What the console tree, plan.md and the diagram show alike: the resources as a tree, the
 * counts and the policy summary, how each kind of change reads, a change's property lines.
 */
import { changeText, type ChangeKind, type PlanDiff, type ResourceChange } from "../planDiff";
import { SECRET, type PlanDocument, type PlanOutput, type PlanResource } from "../document";

export interface TreeNode {
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

/** `key: value, ...`, each value through `code` (plain, or Markdown code). */
export const settingsText = (settings: Record<string, string>, code: (s: string) => string) =>
  Object.entries(settings)
    .map(([k, v]) => `${k}: ${code(v)}`)
    .join(", ");

/** An output's value on one line; `[secret]` when it is secret. */
export function outputText(o: PlanOutput): string {
  if (o.secret) return SECRET;
  return typeof o.value === "string" ? o.value : JSON.stringify(o.value);
}

/** A size in B, KiB or MiB, one decimal. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Components, Azure resources, and violations by level. */
export function counts(doc: PlanDocument) {
  const components = doc.resources.filter((r) => r.component).length;
  const mandatory = doc.policies.violations.filter((v) => v.level === "mandatory").length;
  const advisory = doc.policies.violations.length - mandatory;
  return { components, custom: doc.resources.length - components, mandatory, advisory };
}

/** One phrase for the policies: not run (why), no violations, or how many. */
export function policySummary(doc: PlanDocument): string {
  const c = counts(doc);
  if (!doc.policies.ran) return `not run (${doc.policies.note})`;
  if (c.mandatory + c.advisory === 0) return "no violations";
  return `${c.mandatory} mandatory and ${c.advisory} advisory violation(s)`;
}

/** How each kind of change reads, and its mark (as `pulumi preview` marks them). */
export const CHANGE_LABELS: Record<ChangeKind, { label: string; mark: string }> = {
  replace: { label: "replace", mark: "+-" },
  delete: { label: "delete", mark: "-" },
  update: { label: "update in place", mark: "~" },
  create: { label: "create", mark: "+" },
  unchanged: { label: "unchanged", mark: " " },
};

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
export const kindLabel = (c: ResourceChange) =>
  c.keepsOld ? "replace (the old one is kept)" : CHANGE_LABELS[c.kind].label;

/** ` (package 1.0.0 -> 1.1.0)` when both plans show a package, else nothing. */
export function packageChange(diff: PlanDiff, code: (s: string) => string = (s) => s): string {
  const { base, head } = diff;
  return base.version === undefined || head.version === undefined
    ? ""
    : `package ${code(base.version)} -> ${code(head.version)}`;
}

/** `1 to replace, 2 to update in place, 8 unchanged`: the counts, riskiest first. */
export function diffHeadline(diff: PlanDiff): string {
  const parts = (["replace", "delete", "update", "create"] as ChangeKind[])
    .filter((k) => diff.counts[k] > 0)
    .map((k) => `${diff.counts[k]} to ${CHANGE_LABELS[k].label}`);
  return `${parts.length ? parts.join(", ") : "no changes"}, ${diff.counts.unchanged} unchanged`;
}
