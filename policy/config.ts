/**
 * The policy config: the same shape as a `pulumi up --policy-pack-config <file>` file, checked
 * against each policy's `configSchema` (JSON Schema) with ajv, as the Pulumi CLI checks it, and
 * its errors told as `InputError`s that name the policy, the setting, the value and the rule.
 */
import type { default as AjvClass, ErrorObject, ValidateFunction } from "ajv";
import { InputError } from "../lib/core/errors";
import type { HpcPolicy, Level } from "./framework";

/** Enforcement levels a policy can be configured to, as in a `--policy-pack-config` file. */
export const ENFORCEMENT_LEVELS = ["advisory", "mandatory", "remediate", "disabled"] as const;
export type EnforcementLevel = (typeof ENFORCEMENT_LEVELS)[number];

/** `{ "<policy>": "<level>" | { enforcementLevel?, ...settings } }` */
export type PolicyPackConfig = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** One policy's resolved config: its level and its settings with defaults applied. */
export interface ResolvedPolicyConfig {
  enforcementLevel: EnforcementLevel;
  settings: Record<string, unknown>;
}

type Schema = Record<string, unknown>;

let ajvInstance: AjvClass | undefined;

/**
 * The validator, made on first use: a plan whose stack sets no policy config (the usual case)
 * never loads ajv (about 50 ms of a plan's start-up).
 */
function ajv(): AjvClass {
  if (ajvInstance) return ajvInstance;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv = (require("ajv") as { default: typeof AjvClass }).default;
  // allErrors: the error reported is the one of the first key in the user's entry, as before ajv.
  // strict: a schema keyword ajv does not know is a programming error, thrown at compile.
  ajvInstance = new Ajv({ allErrors: true, strict: true });
  // The format `devStackPattern` declares: a pattern `new RegExp` accepts (without the `u` flag
  // that ajv-formats' "regex" adds), since the check compiles it exactly so.
  ajvInstance.addFormat("regex", {
    type: "string",
    validate: (pattern: string) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    },
  });
  return ajvInstance;
}

const validators = new Map<HpcPolicy, ValidateFunction>();

function settingSchemas(policy: HpcPolicy): Record<string, Schema> {
  return (policy.configSchema?.properties ?? {}) as Record<string, Schema>;
}

/** The JSON schema of one policy's entry: its settings plus `enforcementLevel`, nothing else. */
function validatorOf(policy: HpcPolicy): ValidateFunction {
  let validate = validators.get(policy);
  if (!validate) {
    validate = ajv().compile({
      type: "object",
      properties: {
        enforcementLevel: { enum: [...ENFORCEMENT_LEVELS] },
        ...settingSchemas(policy),
      },
      additionalProperties: false,
    });
    validators.set(policy, validate);
  }
  return validate;
}

/** The entry's top-level key an ajv error is about ("" for the entry itself). */
function keyOf(error: ErrorObject): string {
  if (error.keyword === "additionalProperties") {
    return (error.params as { additionalProperty: string }).additionalProperty;
  }
  const first = error.instancePath.split("/")[1] ?? "";
  return first.replace(/~1/g, "/").replace(/~0/g, "~"); // JSON Pointer escapes (RFC 6901)
}

/** The keyword that decides a setting's message when a value breaks several. */
const KEYWORD_ORDER = ["type", "minimum", "minLength", "format"];

/** Why a setting's value breaks its schema, in the words hpc-batch has always used. */
function settingRule(schema: Schema, errors: ErrorObject[]): string {
  if (schema.type === "array") {
    const items = (schema.items ?? {}) as Schema;
    return `must be an array of ${items.minLength ? "non-empty " : ""}${items.type}s`;
  }
  const rank = (e: ErrorObject) => {
    const i = KEYWORD_ORDER.indexOf(e.keyword);
    return i < 0 ? KEYWORD_ORDER.length : i;
  };
  const error = [...errors].sort((a, b) => rank(a) - rank(b))[0];
  switch (error.keyword) {
    case "type":
      return schema.type === "integer" ? "must be an integer" : `must be a ${schema.type}`;
    case "minimum":
      return `must be an integer of at least ${(error.params as { limit: number }).limit}`;
    case "minLength":
      return "must be a non-empty string";
    case "format":
      return "must be a valid regular expression";
    default:
      return error.message ?? "must match the policy's config schema";
  }
}

/**
 * The `InputError` for an entry that breaks its schema: about the first key of the entry that is
 * wrong, as a reader goes through the file, in the words hpc-batch used before ajv.
 */
function configError(
  policy: HpcPolicy,
  entry: unknown,
  given: Record<string, unknown>,
  errors: ErrorObject[],
): InputError {
  const field = `policy config ${policy.name}`;
  const levels = ENFORCEMENT_LEVELS.join(", ");
  const isObject = typeof given === "object" && given !== null && !Array.isArray(given);
  const keys = ["", ...(isObject ? Object.keys(given) : [])];
  const key = keys.find((k) => errors.some((e) => keyOf(e) === k));
  const ofKey = errors.filter((e) => keyOf(e) === key);
  if (key === "") {
    return new InputError(field, entry, `must be one of ${levels}, or an object of settings`);
  }
  if (key === "enforcementLevel") {
    return new InputError(`${field}.enforcementLevel`, given[key], `must be one of ${levels}`);
  }
  const properties = settingSchemas(policy);
  if (key !== undefined && ofKey.some((e) => e.keyword === "additionalProperties")) {
    const known = ["enforcementLevel", ...Object.keys(properties)].join(", ");
    return new InputError(field, key, `must be one of this policy's settings: ${known}`);
  }
  if (key !== undefined) {
    return new InputError(`${field}.${key}`, given[key], settingRule(properties[key], ofKey));
  }
  return new InputError(field, entry, ajv().errorsText(errors)); // not expected: ajv named no key
}

/**
 * Resolves one policy's entry of a policy config: level and settings, defaults applied.
 * Throws `InputError` naming the key for an unknown setting, a wrong type or an unknown level,
 * as the Pulumi CLI does when it validates a policy config against `configSchema`.
 */
export function resolvePolicyConfig(
  policy: HpcPolicy,
  entry?: PolicyPackConfig[string],
): ResolvedPolicyConfig {
  const given: Record<string, unknown> =
    entry === undefined ? {} : typeof entry === "string" ? { enforcementLevel: entry } : entry;
  const properties = settingSchemas(policy);
  // No entry: nothing to check (no policy's schema requires a setting), and ajv stays unloaded.
  if (entry !== undefined) {
    const validate = validatorOf(policy);
    if (!validate(given)) throw configError(policy, entry, given, validate.errors ?? []);
  }

  const settings: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(properties)) settings[key] = schema.default;
  for (const [key, value] of Object.entries(given)) {
    if (key !== "enforcementLevel") settings[key] = value;
  }
  const level = (given.enforcementLevel as EnforcementLevel | undefined) ?? policy.enforcementLevel;
  return { enforcementLevel: level, settings };
}

/** The level a violation is reported at, or undefined when the policy is disabled. */
export function reportedLevel(level: EnforcementLevel): Level | undefined {
  if (level === "disabled") return undefined;
  return level === "advisory" ? "advisory" : "mandatory"; // remediate: no remediation, so enforce
}
