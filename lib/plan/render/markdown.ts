/**
 * plan.md: the pull-request comment or job summary. The changes against a base (`--against`),
 * the deciding settings, the resources, the outputs (stand-ins folded), the package and its
 * rollout, the policies and the diagram (render/diagram).
 */
import { shortType, type PlanDiff } from "../planDiff";
import {
  decidingSettings,
  SECRET,
  STAND_IN_NOTE,
  type PlanDocument,
  type PlanOutput,
} from "../document";
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
import { renderMermaid } from "./diagram";

const mdCode = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const mdCell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The changes section of plan.md: a table, then the consequences and the policy changes. */
function diffMarkdown(diff: PlanDiff): string[] {
  const pkg = packageChange(diff, mdCode);
  const out = [
    `## Changes against \`${diff.base.stack}\``,
    "",
    `${diffHeadline(diff)}${pkg ? `; ${pkg}` : ""}.`,
    "",
  ];
  const changed = diff.resources.filter((c) => c.kind !== "unchanged");
  if (changed.length) {
    out.push("| Change | Resource | Type | What changes |", "| --- | --- | --- | --- |");
    for (const c of changed) {
      const what = propertyLines(c).map(mdCell).join("<br/>") || "—";
      out.push(
        `| ${CHANGE_LABELS[c.kind].mark.trim()} ${kindLabel(c)} | **${c.name}** | ${mdCode(shortType(c.type))} | ${what} |`,
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
    `**${doc.resources.length} resources** (${c.components} components, ${c.custom} Azure resources)${p ? ` · package \`${p.applicationId}\` \`${p.version}\`` : ""} · policies: ${policySummary(doc)}`,
    "",
  );
  if (diff) out.push(...diffMarkdown(diff));
  out.push("## Deciding settings", "");
  for (const r of doc.resources) {
    const settings = decidingSettings(r);
    if (Object.keys(settings).length === 0) continue;
    out.push(`- **${r.name}** ${mdCode(shortType(r.type))} — ${settingsText(settings, mdCode)}`);
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
  if (p) {
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
