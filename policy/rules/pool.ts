/**
 * Pools: a supported node agent, simplified node communication, a node cap, and Spot nodes in
 * development stacks.
 */
import { isRetiredNodeAgent, RETIRED_NODE_AGENTS } from "../../lib/core/poolRules";
import { renderValue } from "../../lib/core/errors";
import { TYPES, at, label, mustEqual, type HpcPolicy, type PolicyResource } from "../framework";

// The retired node agents: one list, shared with the stack config's check (lib/core/poolRules.ts).
export { RETIRED_NODE_AGENTS };

const SUPPORTED_EXAMPLE =
  'imageReference { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: "server" } ' +
  'with nodeAgentSkuId: "batch.node.ubuntu 24.04"';

export const poolSupportedNodeAgent: HpcPolicy = {
  name: "pool-supported-node-agent",
  description: "Pools run a node agent (operating system) that Azure Batch still supports.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  check: (r) => {
    const path = "deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId";
    const agent = at(r.props, ...path.split("."));
    if (typeof agent !== "string" || agent.trim() === "") {
      return [`${label(r)}: ${path} is ${renderValue(agent)}; use ${SUPPORTED_EXAMPLE}.`];
    }
    return isRetiredNodeAgent(agent)
      ? [
          `${label(r)}: nodeAgentSkuId ${renderValue(agent)} is retired by Azure Batch ` +
            `(no new nodes, no support); use ${SUPPORTED_EXAMPLE}.`,
        ]
      : [];
  },
};

export const poolSimplifiedCommunication: HpcPolicy = {
  name: "pool-simplified-node-communication",
  description: "Pools use simplified node communication: no inbound ports on the nodes.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  // Unset or "Default" leaves the choice to Batch; classic mode is being retired.
  check: mustEqual(
    "targetNodeCommunicationMode",
    "Simplified",
    "so nodes need no inbound ports (classic node communication is retired)",
  ),
};

export const DEFAULT_MAX_NODES_PER_POOL = 50;

/**
 * The node counts of a fixed-scale pool, read from ARM's properties. Messages name the settings a
 * user edits instead (`dedicatedNodes`, `spotNodes`: hpc-batch:pool and the BatchPool args).
 */
function fixedScale(r: PolicyResource): { dedicated: number; spot: number } | undefined {
  const fixed = at(r.props, "scaleSettings", "fixedScale");
  if (fixed === undefined) return undefined;
  const count = (v: unknown) => (typeof v === "number" && v > 0 ? v : 0);
  return {
    dedicated: count(at(fixed, "targetDedicatedNodes")),
    spot: count(at(fixed, "targetLowPriorityNodes")),
  };
}

export const poolMaxNodes: HpcPolicy = {
  name: "pool-max-nodes",
  description:
    "A fixed-scale pool asks for at most maxNodes nodes, dedicated and Spot together. " +
    "Autoscale pools are not checked: their size is decided by the formula at run time.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.pool],
  configSchema: {
    properties: {
      maxNodes: {
        type: "integer",
        minimum: 1,
        default: DEFAULT_MAX_NODES_PER_POOL,
        description:
          "Most nodes (dedicatedNodes + spotNodes of hpc-batch:pool) one pool may ask for.",
      },
    },
  },
  check: (r, { config }) => {
    const scale = fixedScale(r);
    if (!scale) return [];
    const max = config.maxNodes as number;
    const total = scale.dedicated + scale.spot;
    if (total <= max) return [];
    return [
      `${label(r)}: fixedScale asks for ${total} nodes (${scale.dedicated} dedicated + ` +
        `${scale.spot} Spot), more than the cap of ${max} per pool; lower dedicatedNodes ` +
        `or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.`,
    ];
  },
};

export const DEFAULT_DEV_STACK_PATTERN = "(^|[-_.])(dev|test|ci|sandbox)([-_.0-9]|$)";

export const devStackSpotNodes: HpcPolicy = {
  name: "dev-stack-spot-nodes",
  description: "Development stacks run their fixed-scale pools on Spot nodes, not dedicated ones.",
  enforcementLevel: "advisory",
  resourceTypes: [TYPES.pool],
  configSchema: {
    properties: {
      devStackPattern: {
        type: "string",
        format: "regex",
        default: DEFAULT_DEV_STACK_PATTERN,
        description: "Regular expression (case-insensitive) matching development stack names.",
      },
    },
  },
  check: (r, { stack, config }) => {
    if (!new RegExp(config.devStackPattern as string, "i").test(stack)) return [];
    const scale = fixedScale(r);
    if (!scale || scale.dedicated === 0) return [];
    return [
      `${label(r)}: stack "${stack}" is a development stack but asks for ${scale.dedicated} ` +
        `dedicated node${scale.dedicated === 1 ? "" : "s"}; set dedicatedNodes: 0 and use spotNodes ` +
        `(hpc-batch:pool) instead, which cost a fraction as much.`,
    ];
  },
};
