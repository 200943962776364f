/** Tags on every top-level resource, so its cost and owner can be traced. */
import { renderValue } from "../../lib/core/errors";
import { TYPES, label, type HpcPolicy } from "../framework";

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

export const requiredTags: HpcPolicy = {
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
