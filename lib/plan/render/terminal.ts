/**
 * The console rendering of `hpc-batch plan`: the changes against a base (`--against`), the
 * resource tree with its settings, the stack outputs, the package, its rollout and the policies.
 */
import type { PlanDiff } from "../planDiff";
import { STAND_IN_NOTE, type PlanDocument } from "../document";
import {
  CHANGE_LABELS,
  counts,
  diffHeadline,
  humanBytes,
  kindLabel,
  outputText,
  packageChange,
  policySummary,
  propertyLines,
  resourceTree,
  settingsText,
  type TreeNode,
} from "./common";

/** The diff as console lines. */
function diffText(diff: PlanDiff): string[] {
  const pkg = packageChange(diff);
  const lines = [
    `Changes against stack ${diff.base.stack}${pkg ? ` (${pkg})` : ""}: ${diffHeadline(diff)}`,
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
  if (p) {
    lines.push(
      "",
      `Package: ${p.applicationId} ${p.version} (${p.versionSource}), ${p.file}, ${humanBytes(p.bytes)}, ${p.files} files, sha256 ${p.sha256}`,
    );
    for (const f of p.staged) lines.push(`  staged ${f.to} from ${f.from}`);
    for (const r of p.rollout ?? []) lines.push(`  rollout: ${r}`);
  } else lines.push("");
  lines.push(`Policies: ${policySummary(doc)}`);
  for (const v of doc.policies.violations) {
    lines.push(`  [${v.level}] ${v.policy}: ${v.message} (${v.urn})`);
  }
  lines.push("", `† ${STAND_IN_NOTE}`);
  return `${lines.join("\n")}\n`;
}
