/**
 * plan.json: the plan document as it is (lib/plan/document), two-space indented, with a final
 * newline. Deterministic: the same document gives the same bytes.
 */
import type { PlanDocument } from "../document";

export function renderJson(doc: PlanDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
