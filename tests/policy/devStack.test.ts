/**
 * A development stack configured like the shipped one passes the whole pack: the real program
 * (index.ts) runs under the simulated engine with the suite's fixture stack
 * (tests/fixtures/stacks/Pulumi.ci.yaml: autoscaled Spot pool, tags) and the stand-ins
 * `hpc-batch plan` uses (lib/plan/plan.ts readStackConfig, lib/plan/planState.ts), and `evaluatePolicies`
 * finds nothing, not even an advisory. The shipped Pulumi.dev.yaml is the team's to change;
 * `npm run plan` (CI) runs the same pack on it.
 */
import { simulate } from "../helpers";
import { FIXTURE_STACK, fixtureProject } from "../support/devStack";
import { parseStackConfig } from "../../lib/core/config";
import { readStackConfig } from "../../lib/plan/plan";
import { PlanState } from "../../lib/plan/planState";
import { evaluatePolicies } from "../../policy/runner";

const stackConfig = readStackConfig(fixtureProject(), FIXTURE_STACK);
const standIns = new PlanState(parseStackConfig(stackConfig.config).location);
const sim = simulate({
  project: stackConfig.project,
  stack: FIXTURE_STACK,
  config: stackConfig.config,
  secretKeys: stackConfig.secretKeys,
  id: (r) => standIns.id(r),
  state: (r) => standIns.state(r),
  call: (inv) => standIns.call(inv),
  // As `hpc-batch plan` runs it: the policies read inputs, not the provider's serialized code.
  serializeDynamicProviders: false,
});

test("the fixture stack registers the resources the pack checks and violates no policy", async () => {
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
  expect(evaluatePolicies(sim.registrations, { stack: FIXTURE_STACK })).toEqual({ violations: [] });
});

test("the checks did see the stack: a required tag it lacks is reported on each tagged resource", () => {
  const { violations } = evaluatePolicies(sim.registrations, {
    stack: FIXTURE_STACK,
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
  expect(evaluatePolicies(mutated, { stack: FIXTURE_STACK }).violations).toEqual([
    {
      policy: "application-no-updates",
      level: "mandatory",
      urn: pkg.urn,
      message:
        'application package version "app-package-version": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
    },
  ]);
});
