/**
 * The policy config checked by ajv (policy/config.ts): every kind of ajv error a policy's schema
 * can raise comes out in hpc-batch's own words, about the first wrong key of the entry, and the
 * role tables the policies use are lib/core/roles.ts's, with the values they always had.
 */
import { InputError } from "../../lib/core/errors";
import {
  ENFORCEMENT_LEVELS,
  resolvePolicyConfig,
  type PolicyPackConfig,
} from "../../policy/config";
import { POLICIES } from "../../policy/policies";
import { BLOB_DATA_ROLES, PRIVILEGED_ROLES } from "../../policy/rules/roleAssignment";

const policy = (name: string) => POLICIES.find((p) => p.name === name)!;

/** The InputError `resolvePolicyConfig` throws, as field, value and rule. */
function refusal(name: string, entry: unknown): { field: string; value: unknown; rule: string } {
  try {
    resolvePolicyConfig(policy(name), entry as PolicyPackConfig[string]);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    const { field, value, rule } = err as InputError;
    return { field, value, rule };
  }
  throw new Error(`${name}: ${JSON.stringify(entry)} was accepted`);
}

test("every policy's config schema compiles in ajv's strict mode and accepts its defaults", () => {
  for (const p of POLICIES) {
    const defaults = Object.fromEntries(
      Object.entries(p.configSchema?.properties ?? {}).map(([k, s]) => [
        k,
        (s as { default: unknown }).default,
      ]),
    );
    for (const level of ENFORCEMENT_LEVELS) {
      expect(resolvePolicyConfig(p, { enforcementLevel: level, ...defaults })).toEqual({
        enforcementLevel: level,
        settings: defaults,
      });
    }
  }
});

test.each([
  // ajv keyword "type" on an integer, also when "minimum" fails too: the type is what is wrong.
  [
    "pool-max-nodes",
    { maxNodes: -1.5 },
    { field: "policy config pool-max-nodes.maxNodes", value: -1.5, rule: "must be an integer" },
  ],
  [
    "pool-max-nodes",
    { maxNodes: null },
    { field: "policy config pool-max-nodes.maxNodes", value: null, rule: "must be an integer" },
  ],
  // "type" on a string
  [
    "dev-stack-spot-nodes",
    { devStackPattern: 7 },
    {
      field: "policy config dev-stack-spot-nodes.devStackPattern",
      value: 7,
      rule: "must be a string",
    },
  ],
  // any error inside an array names the whole array
  [
    "required-tags",
    { requiredKeys: ["owner", 1] },
    {
      field: "policy config required-tags.requiredKeys",
      value: ["owner", 1],
      rule: "must be an array of non-empty strings",
    },
  ],
  // "enum" on the level, inside an object entry
  [
    "required-tags",
    { enforcementLevel: "Mandatory" },
    {
      field: "policy config required-tags.enforcementLevel",
      value: "Mandatory",
      rule: "must be one of advisory, mandatory, remediate, disabled",
    },
  ],
  // "additionalProperties" on a policy without settings
  [
    "storage-https-only",
    { maxNodes: 3 },
    {
      field: "policy config storage-https-only",
      value: "maxNodes",
      rule: "must be one of this policy's settings: enforcementLevel",
    },
  ],
  // several wrong keys: the first of the entry is reported, whatever ajv's order
  [
    "pool-max-nodes",
    { maxNodes: 0, enforcementLevel: "warn", extra: true },
    {
      field: "policy config pool-max-nodes.maxNodes",
      value: 0,
      rule: "must be an integer of at least 1",
    },
  ],
  [
    "pool-max-nodes",
    { extra: true, maxNodes: 0 },
    {
      field: "policy config pool-max-nodes",
      value: "extra",
      rule: "must be one of this policy's settings: enforcementLevel, maxNodes",
    },
  ],
  [
    "pool-max-nodes",
    { enforcementLevel: "warn", maxNodes: "x" },
    {
      field: "policy config pool-max-nodes.enforcementLevel",
      value: "warn",
      rule: "must be one of advisory, mandatory, remediate, disabled",
    },
  ],
  // an entry that is neither a level nor an object of settings
  ...[null, 5, true, ["advisory"]].map((entry) => [
    "pool-max-nodes",
    entry,
    {
      field: "policy config pool-max-nodes",
      value: entry,
      rule: "must be one of advisory, mandatory, remediate, disabled, or an object of settings",
    },
  ]),
] as [string, unknown, ReturnType<typeof refusal>][])(
  "%s: %j is refused as %j",
  (name, entry, expected) => {
    expect(refusal(name, entry)).toEqual(expected);
  },
);

test("a dev stack pattern is any pattern RegExp compiles, as the check compiles it", () => {
  // Valid without the `u` flag (the check's) but not with it (ajv-formats' "regex").
  const pattern = "^(dev|te\\-st)";
  expect(() => new RegExp(pattern, "u")).toThrow(SyntaxError);
  expect(resolvePolicyConfig(policy("dev-stack-spot-nodes"), { devStackPattern: pattern })).toEqual(
    { enforcementLevel: "advisory", settings: { devStackPattern: pattern } },
  );
});

test("given settings override the defaults; a bare level keeps them", () => {
  expect(resolvePolicyConfig(policy("required-tags"))).toEqual({
    enforcementLevel: "advisory",
    settings: { requiredKeys: [] },
  });
  expect(resolvePolicyConfig(policy("required-tags"), { requiredKeys: ["owner"] })).toEqual({
    enforcementLevel: "advisory",
    settings: { requiredKeys: ["owner"] },
  });
  expect(resolvePolicyConfig(policy("pool-max-nodes"), "remediate")).toEqual({
    enforcementLevel: "remediate",
    settings: { maxNodes: 50 },
  });
});

test("the role tables of role-assignment-scope keep their GUIDs, names and order", () => {
  expect(Object.entries(PRIVILEGED_ROLES)).toEqual([
    ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"],
    ["b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"],
    ["18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator"],
    ["f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator"],
  ]);
  expect(Object.entries(BLOB_DATA_ROLES)).toEqual([
    ["b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"],
    ["ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor"],
    ["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader"],
  ]);
});

test("no policy's schema requires a setting: an absent entry is valid unchecked (ajv stays unloaded)", () => {
  expect(POLICIES.filter((p) => p.configSchema && "required" in p.configSchema)).toEqual([]);
  for (const p of POLICIES) {
    for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
      expect([p.name, key, "required" in (schema as object)]).toEqual([p.name, key, false]);
    }
  }
});
