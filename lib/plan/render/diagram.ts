/**
 * The plan's diagram: a Mermaid flowchart (plan.md's last section) of the components, the Azure
 * resources and what flows between them, marked with the changes against a base.
 */
import { shortType, type ChangeKind, type PlanDiff } from "../planDiff";
import { decidingSettings, type PlanDocument } from "../document";
import { CHANGE_LABELS, resourceTree, type TreeNode } from "./common";

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
    return quote([`${mark}${r.name}`, shortType(r.type), ...shown].join("<br/>"));
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
