/**
 * The CrossGuard adapter: a pack policy in the form `@pulumi/policy` runs. Used by
 * `policy/index.ts`; kept apart so it can be tested without starting the pack's gRPC server.
 * `@pulumi/policy` is imported for its types only: constructing its `PolicyPack` starts that
 * server (node_modules/@pulumi/policy/policy.js).
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { resolvePolicyConfig } from "./config";
import { baseType, stackOfUrn, type HpcPolicy } from "./framework";

/**
 * The CrossGuard form of a policy. The Pulumi CLI has already validated the pack's config
 * against `configSchema` and applies the enforcement level itself; `getConfig()` returns the
 * settings (without `enforcementLevel`), which are resolved again here for the defaults.
 */
export function toResourceValidationPolicy(policy: HpcPolicy): ResourceValidationPolicy {
  return {
    name: policy.name,
    description: policy.description,
    enforcementLevel: policy.enforcementLevel,
    ...(policy.configSchema ? { configSchema: policy.configSchema } : {}),
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      if (!policy.resourceTypes.includes(baseType(args.type))) {
        args.notApplicable(`applies only to ${policy.resourceTypes.join(", ")}`);
      }
      const { settings } = resolvePolicyConfig(policy, args.getConfig<Record<string, unknown>>());
      const resource = { type: args.type, name: args.name, urn: args.urn, props: args.props };
      const ctx = { stack: stackOfUrn(args.urn), config: settings };
      for (const message of policy.check(resource, ctx)) reportViolation(message);
    },
  };
}
