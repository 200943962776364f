import * as path from "node:path";
import { REPLACE_PROPERTIES, UPDATE_PROPERTIES } from "../../../components/appPackageProvider";
import { withinProject } from "../../../lib/plan/plan";
import {
  changedPaths,
  changeText,
  diffPlans,
  DYNAMIC_PROVIDERS,
  gateReasons,
  parseBasePlan,
  POOL_SETTINGS_TYPE,
  resourceKey,
  type PlanDiff,
} from "../../../lib/plan/planDiff";
import {
  formulaBounds,
  SECRET,
  vmSizeCores,
  type PlanDocument,
  type PlanResource,
} from "../../../lib/plan/document";
import { PACKAGE_VERSION_TYPE } from "../../../lib/plan/planState";
import {
  COORDINATES,
  POOL_SETTINGS,
  POOL_SETTINGS_TYPE as PROVIDER_POOL_SETTINGS_TYPE,
} from "../../../components/poolSettingsProvider";
import { IMMUTABLE_POOL_PROPERTIES, PATCHED_POOL_PROPERTIES } from "../../../components/pool";

const POOL = "azure-native:batch:Pool";
const urn = (stack: string, type: string, name: string) =>
  `urn:pulumi:${stack}::hpc-batch::${type}::${name}`;

function res(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  extra: Partial<PlanResource> = {},
): PlanResource {
  return {
    urn: urn("s", type, name),
    type,
    name,
    component: false,
    settings: {},
    inputs,
    options: {},
    dependsOn: [],
    standIns: ["id"],
    ...extra,
  };
}

function doc(resources: PlanResource[], extra: Partial<PlanDocument> = {}): PlanDocument {
  return {
    format: "hpc-batch-plan/1",
    project: "hpc-batch",
    stack: "s",
    config: {},
    resources,
    outputs: {},
    package: {
      applicationId: "ffmpeg",
      version: "1.0.0",
      versionSource: "stack config",
      file: "ffmpeg-1.0.0.zip",
      sha256: "0".repeat(64),
      bytes: 1,
      files: 1,
      staged: [],
      rollout: [],
    },
    policies: { ran: true, violations: [] },
    standIns: { subscriptionId: "0", note: "" },
    ...extra,
  };
}

/** The pool as components/pool.ts registers it. */
const poolOptions = {
  deleteBeforeReplace: true,
  replaceOnChanges: [...IMMUTABLE_POOL_PROPERTIES],
  ignoreChanges: [...PATCHED_POOL_PROPERTIES],
};
const pool = (inputs: Record<string, unknown>) =>
  res(
    POOL,
    "pool",
    { resourceGroupName: "rg", accountName: "ba", poolName: "p", ...inputs },
    { options: poolOptions, settings: { name: "p" } },
  );
const poolSettings = (inputs: Record<string, unknown>) =>
  res(
    POOL_SETTINGS_TYPE,
    "pool-settings",
    { resourceGroupName: "rg", accountName: "ba", poolName: "p", ...inputs },
    { dependsOn: [urn("s", POOL, "pool")], settings: { poolName: "p" } },
  );

const kinds = (d: PlanDiff) => d.resources.map((c) => [c.name, c.kind]);

describe("diffPlans: each kind of change, decided as Pulumi would", () => {
  test.each<[string, PlanResource[], PlanResource[], [string, string][], string[][]]>([
    [
      "VM size (replaceOnChanges): the pool is replaced, deleted first; its settings follow the new pool",
      [pool({ vmSize: "Standard_D2s_v5" }), poolSettings({})],
      [pool({ vmSize: "Standard_D4s_v5" }), poolSettings({})],
      [
        ["pool", "replace"],
        ["pool-settings", "update"],
      ],
      [
        ['vmSize: "Standard_D2s_v5" -> "Standard_D4s_v5"', "replace"],
        [`poolCreationTime: "(the old pool's)" -> "(the new pool's)"`, "update"],
      ],
    ],
    [
      "autoscale formula (ignoreChanges on the pool): the settings resource updates in place",
      [
        pool({ scaleSettings: { autoScale: { formula: "a" } } }),
        poolSettings({ scaleSettings: { autoScale: { formula: "a" } } }),
      ],
      [
        pool({ scaleSettings: { autoScale: { formula: "b" } } }),
        poolSettings({ scaleSettings: { autoScale: { formula: "b" } } }),
      ],
      [
        ["pool", "unchanged"],
        ["pool-settings", "update"],
      ],
      [
        ['scaleSettings.autoScale.formula: "a" -> "b"', "ignored"],
        ['scaleSettings.autoScale.formula: "a" -> "b"', "update"],
      ],
    ],
    [
      "a new package version: the dynamic provider replaces (version), the zip path goes along",
      [res(PACKAGE_VERSION_TYPE, "v", { version: "1.0.0", packagePath: "out/a-1.0.0.zip" })],
      [res(PACKAGE_VERSION_TYPE, "v", { version: "1.1.0", packagePath: "out/a-1.1.0.zip" })],
      [["v", "replace"]],
      [
        ['packagePath: "out/a-1.0.0.zip" -> "out/a-1.1.0.zip"', "none"],
        ['version: "1.0.0" -> "1.1.0"', "replace"],
      ],
    ],
    [
      "a tag on an azure-native resource: update in place",
      [res("azure-native:storage:StorageAccount", "st", { accountName: "st", tags: { a: "1" } })],
      [
        res("azure-native:storage:StorageAccount", "st", {
          accountName: "st",
          tags: { a: "1", b: "2" },
        }),
      ],
      [["st", "update"]],
      [['tags.b: (none) -> "2"', "update"]],
    ],
    [
      "another account name (ARM path): replace",
      [res("azure-native:storage:StorageAccount", "st", { accountName: "st1" })],
      [res("azure-native:storage:StorageAccount", "st", { accountName: "st2" })],
      [["st", "replace"]],
      [['accountName: "st1" -> "st2"', "replace"]],
    ],
    [
      "a new resource and a removed one",
      [res("azure-native:batch:BatchAccount", "old", {})],
      [res("azure-native:batch:BatchAccount", "new", {})],
      [
        ["new", "create"],
        ["old", "delete"],
      ],
      [],
    ],
    [
      "secrets on both sides cannot be compared: unchanged; the pool settings' mirrored inputs are not compared",
      [
        res("t:index:T", "t", { password: SECRET }),
        poolSettings({ reported: { a: 1 }, poolCreationTime: "x" }),
      ],
      [
        res("t:index:T", "t", { password: SECRET }),
        poolSettings({ reported: { a: 2 }, poolCreationTime: "y" }),
      ],
      [
        ["t", "unchanged"],
        ["pool-settings", "unchanged"],
      ],
      [],
    ],
  ])("%s", (_what, base, head, expectedKinds, properties) => {
    const d = diffPlans(doc(base), doc(head));
    expect(kinds(d)).toEqual(expectedKinds);
    expect(
      d.resources.flatMap((c) =>
        c.properties.map((p) => [`${p.path}: ${changeText(p)}`, p.effect]),
      ),
    ).toEqual(properties);
  });

  test("consequences: a replaced pool, storage and Batch account; a deleted pool; a grant", () => {
    const base = doc([
      pool({ vmSize: "A" }),
      res(
        "azure-native:storage:StorageAccount",
        "st",
        { accountName: "a" },
        { settings: { name: "a" } },
      ),
      res(
        "azure-native:batch:BatchAccount",
        "ba",
        { accountName: "a" },
        { settings: { name: "a" } },
      ),
      res(POOL, "gone", {}, { settings: { name: "gone" } }),
    ]);
    const head = doc([
      pool({ vmSize: "B" }),
      res(
        "azure-native:storage:StorageAccount",
        "st",
        { accountName: "b" },
        { settings: { name: "b" } },
      ),
      res(
        "azure-native:batch:BatchAccount",
        "ba",
        { accountName: "b" },
        { settings: { name: "b" } },
      ),
      res(
        "azure-native:authorization:RoleAssignment",
        "ra",
        {},
        {
          settings: {
            role: "Reader",
            principal: "managed identity id",
            scope: "storage account b",
          },
        },
      ),
    ]);
    expect(
      Object.fromEntries(diffPlans(base, head).resources.map((c) => [c.name, c.consequences])),
    ).toEqual({
      pool: [
        "replaces pool p: deleted first (its id is fixed, so the new pool cannot exist beside it), with all its nodes and the tasks running on them; jobs wait until the new pool has nodes",
      ],
      st: [
        "replaces storage account b: every blob in it is lost (uploaded application packages, the Batch account's auto-storage)",
      ],
      ba: [
        "replaces Batch account b: its applications and package versions, its pools (with their nodes), jobs and tasks are lost",
      ],
      ra: ["grants Reader for managed identity id on storage account b"],
      gone: ["deletes pool gone with all its nodes and the tasks running on them"],
    });
  });

  test("policies now failing and now passing; matched across stacks", () => {
    const v = (policy: string, stack: string) => ({
      policy,
      level: "mandatory" as const,
      urn: urn(stack, POOL, "pool"),
      message: "m",
    });
    const base = doc([], {
      stack: "a",
      policies: { ran: true, violations: [v("kept", "a"), v("fixed", "a")] },
    });
    const head = doc([], {
      stack: "b",
      policies: { ran: true, violations: [v("kept", "b"), v("new", "b")] },
    });
    const d = diffPlans(base, head);
    expect(d.policies.failing.map((x) => x.policy)).toEqual(["new"]);
    expect(d.policies.fixed.map((x) => x.policy)).toEqual(["fixed"]);
  });
});

describe("gateReasons (--fail-on)", () => {
  const base = doc([
    pool({ vmSize: "A" }),
    res(POOL, "gone", {}),
    res(PACKAGE_VERSION_TYPE, "v", { version: "1" }),
  ]);
  const head = doc([pool({ vmSize: "B" }), res(PACKAGE_VERSION_TYPE, "v", { version: "2" })], {
    policies: {
      ran: true,
      violations: [{ policy: "p", level: "advisory", urn: urn("s", POOL, "pool"), message: "m" }],
    },
  });
  const d = diffPlans(base, head);
  test.each<[("replace" | "delete" | "policy")[], string[]]>([
    // A new package version is a replacement that deletes nothing: not a reason.
    [["replace"], ['replaces pool (Pool): vmSize "A" -> "B"']],
    [["delete"], ["deletes gone (Pool)"]],
    [["policy"], ["policy now failing: p (advisory) on pool"]],
    [[], []],
  ])("%j", (failOn, reasons) => {
    expect(gateReasons(failOn, head, d)).toEqual(reasons);
  });
  test("without a base, policy stops on any violation", () => {
    expect(gateReasons(["policy"], head)).toEqual(["policy now failing: p (advisory) on pool"]);
  });
});

test("the dynamic providers' rules are the providers' own", () => {
  expect(DYNAMIC_PROVIDERS[PACKAGE_VERSION_TYPE]).toEqual({
    replaces: [...REPLACE_PROPERTIES],
    updates: [...UPDATE_PROPERTIES],
  });
  expect(POOL_SETTINGS_TYPE).toBe(PROVIDER_POOL_SETTINGS_TYPE);
  expect(DYNAMIC_PROVIDERS[POOL_SETTINGS_TYPE]).toEqual({
    replaces: [...COORDINATES],
    updates: [...POOL_SETTINGS, "poolCreationTime"],
  });
});

test.each([
  ["Standard_D2s_v5", 2],
  ["Standard_F4s_v2", 4],
  ["Standard_E64-16ds_v5", 16],
  ["Standard_NC24ads_A100_v4", 24],
  ["Custom", undefined],
])("vmSizeCores(%s) = %s", (size, cores) => {
  expect(vmSizeCores(size)).toBe(cores);
});

test.each([
  [
    "maxNodes = 2;\n$TargetDedicatedNodes = 0;\n$TargetLowPriorityNodes = min(maxNodes, $PendingTasks.GetSample(1));",
    { dedicated: { min: 0, max: 0 }, spot: { min: 0, max: 2 } },
  ],
  [
    "$TargetDedicatedNodes = min(10, $x); $TargetLowPriorityNodes = 3;",
    { dedicated: { min: 0, max: 10 }, spot: { min: 3, max: 3 } },
  ],
  [
    "$TargetDedicatedNodes = $PendingTasks.GetSample(1);",
    { dedicated: undefined, spot: undefined },
  ],
])("formulaBounds(%j)", (formula, bounds) => {
  expect(formulaBounds(formula)).toEqual(bounds);
});

test.each([
  [
    { a: 1, b: { c: 2 } },
    { a: 1, b: { c: 3 }, d: [1] },
    [
      { path: "b.c", old: 2, new: 3 },
      { path: "d", new: [1] },
    ],
  ],
  [{ l: [1, 2] }, { l: [2, 1] }, [{ path: "l", old: [1, 2], new: [2, 1] }]],
  [{ s: SECRET }, { s: SECRET }, []],
])("changedPaths(%j, %j)", (olds, news, expected) => {
  expect(changedPaths(olds, news)).toEqual(expected);
});

test("changeText shows the changed lines of a multi-line value", () => {
  expect(changeText({ old: "a;\nb = 2;\nc;", new: "a;\nb = 4;\nc;" })).toBe(
    '"b = 2;" -> "b = 4;" (changed lines)',
  );
  expect(changeText({ new: 1 })).toBe("(none) -> 1");
});

test("resourceKey drops the stack, so a resource matches across stacks", () => {
  expect(resourceKey(urn("dev", POOL, "pool"))).toBe(resourceKey(urn("prod", POOL, "pool")));
});

test("withinProject makes the project's paths relative, leaves others alone", () => {
  const root = path.join(path.sep, "work", "a");
  expect(
    withinProject(
      { p: path.join(root, "out", "x.zip"), id: "/subscriptions/0/rg", l: [path.join(root, "b")] },
      root,
    ),
  ).toEqual({ p: "out/x.zip", id: "/subscriptions/0/rg", l: ["b"] });
});

test.each([
  [
    "{",
    /^--against "f" is invalid: must be a plan\.json written by hpc-batch plan \(format hpc-batch-plan\/1\): /,
  ],
  [
    '{"format":"other"}',
    '--against "f" is invalid: must be a plan.json written by hpc-batch plan (format hpc-batch-plan/1)',
  ],
])("parseBasePlan(%j) is bad input", (text, message) => {
  expect(() => parseBasePlan(text, "f")).toThrow(message);
});
