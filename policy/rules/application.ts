/** Batch applications and their package versions: immutable once published. */
import { TYPES, baseType, mustEqual, type HpcPolicy } from "../framework";

export const applicationNoUpdates: HpcPolicy = {
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
