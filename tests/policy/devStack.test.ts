/**
 * The default `dev` stack passes the whole pack: the real program (index.ts) runs under the
 * simulated engine with the dev stack's config and the stand-ins `hpc-batch plan` uses
 * (lib/plan.ts readStackConfig, lib/planState.ts), and `evaluatePolicies` finds nothing, not
 * even an advisory.
 */
import * as path from "node:path";
import { simulate } from "../helpers";
import { parseStackConfig } from "../../lib/config";
import { readStackConfig } from "../../lib/plan";
import { PlanState } from "../../lib/planState";
import { evaluatePolicies } from "../../policy/runner";

const ROOT = path.join(__dirname, "..", "..");
const stackConfig = readStackConfig(ROOT, "dev");
const standIns = new PlanState(parseStackConfig(stackConfig.config).location);
const sim = simulate({
  project: stackConfig.project,
  stack: "dev",
  config: stackConfig.config,
  secretKeys: stackConfig.secretKeys,
  id: (r) => standIns.id(r),
  state: (r) => standIns.state(r),
  call: (inv) => standIns.call(inv),
});

test("the dev stack registers the resources the pack checks and violates no policy", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../../index") as () => Promise<unknown>;
  await program(); // an async program, as Pulumi runs it
  await sim.settle();
  for (const type of [
    "azure-native:resources:ResourceGroup",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:storage:StorageAccount",
    "azure-native:batch:BatchAccount",
    "azure-native:batch:Pool",
  ]) {
    expect(sim.ofType(type)).toHaveLength(1);
  }
  expect(evaluatePolicies(sim.registrations, { stack: "dev" })).toEqual({ violations: [] });
});

test("the checks did see the dev stack: a required tag it lacks is reported on each tagged resource", () => {
  const { violations } = evaluatePolicies(sim.registrations, {
    stack: "dev",
    config: { "required-tags": { requiredKeys: ["owner"] } },
  });
  expect(violations.map((v) => [v.policy, v.level, v.urn.split("::").slice(2).join("::")])).toEqual(
    [
      ["required-tags", "advisory", "azure-native:resources:ResourceGroup::resource-group"],
      [
        "required-tags",
        "advisory",
        "hpc-batch:batch:BatchAccount$azure-native:batch:BatchAccount::batch",
      ],
      [
        "required-tags",
        "advisory",
        "hpc-batch:batch:BatchAccount$azure-native:managedidentity:UserAssignedIdentity::batch-identity",
      ],
      [
        "required-tags",
        "advisory",
        "hpc-batch:storage:StorageAccount$azure-native:storage:StorageAccount::app-storage",
      ],
    ],
  );
});

test("application-no-updates checks the stack's own package version resource", () => {
  const pkg = sim.find(
    "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
    "app-package-version",
  );
  expect(pkg.inputs.allowUpdates).toBe(false);
  const mutated = sim.registrations.map((r) =>
    r === pkg ? { ...r, inputs: { ...r.inputs, allowUpdates: true } } : r,
  );
  expect(evaluatePolicies(mutated, { stack: "dev" }).violations).toEqual([
    {
      policy: "application-no-updates",
      level: "mandatory",
      urn: pkg.urn,
      message:
        'application package version "app-package-version": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
    },
  ]);
});
