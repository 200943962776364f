/**
 * Runs the pack's policies offline over the registrations of a simulated stack
 * (`lib/plan/simulate`), for `hpc-batch plan`. Same checks, same messages and same policy config
 * format as `pulumi preview --policy-pack policy --policy-pack-config <file>`; no Pulumi CLI,
 * no gRPC server.
 *
 * Differences from the real engine, both harmless for these policies:
 * - the engine validates resources as they register, the runner after the program settled;
 * - a value still unknown in preview is absent here, where CrossGuard would report the policy as
 *   not checkable; every property the policies read is a literal in hpc-batch's components.
 */
import type { Registration } from "../lib/plan/simulate";
import { InputError } from "../lib/core/errors";
import { reportedLevel, resolvePolicyConfig, type PolicyPackConfig } from "./config";
import { baseType, type Level } from "./framework";
import { POLICIES } from "./policies";

export type { PolicyPackConfig } from "./config";

export interface PolicyViolation {
  /** The policy's name, e.g. `storage-https-only`. */
  policy: string;
  level: Level;
  /** URN of the resource in violation. */
  urn: string;
  message: string;
}

export interface EvaluateOptions {
  /** The stack the registrations belong to (decides, e.g., whether it is a dev stack). */
  stack: string;
  /** Policy config, as in a `--policy-pack-config` file: `{ "pool-max-nodes": { "maxNodes": 20 } }`. */
  config?: PolicyPackConfig;
}

/**
 * Every violation of every enabled policy, sorted by resource URN, then in policy order (the
 * registration order of a program depends on when its Outputs resolve, so it is not stable).
 * Throws `InputError` for a config that names an unknown policy or setting, or has a wrong type.
 */
export function evaluatePolicies(
  resources: Registration[],
  opts: EvaluateOptions,
): { violations: PolicyViolation[] } {
  const config = opts.config ?? {};
  const known = POLICIES.map((p) => p.name);
  for (const name of Object.keys(config)) {
    if (!known.includes(name)) {
      throw new InputError(
        "policy config",
        name,
        `must name a policy of the pack: ${known.join(", ")}`,
      );
    }
  }
  const enabled = POLICIES.flatMap((policy) => {
    const resolved = resolvePolicyConfig(policy, config[policy.name]);
    const level = reportedLevel(resolved.enforcementLevel);
    return level ? [{ policy, level, settings: resolved.settings }] : [];
  });

  const violations: PolicyViolation[] = [];
  const byUrn = [...resources].sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  for (const r of byUrn) {
    const type = baseType(r.type);
    const resource = { type: r.type, name: r.name, urn: r.urn, props: r.inputs };
    for (const { policy, level, settings } of enabled) {
      if (!policy.resourceTypes.includes(type)) continue;
      for (const message of policy.check(resource, { stack: opts.stack, config: settings })) {
        violations.push({ policy: policy.name, level, urn: r.urn, message });
      }
    }
  }
  return { violations };
}
