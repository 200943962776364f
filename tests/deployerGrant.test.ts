// With hpc-batch:deployerObjectId set (the pipeline's service principal), the deployer's blob
// grant names that principal whoever runs the program, so a preview by another identity shows
// no change. Provider-computed values come from the plan's ARM-shaped stand-ins.
import { roleAssignmentName } from "../lib/core/naming";
import { PlanState } from "../lib/plan/planState";
import { simulate } from "./helpers";

const PIPELINE = "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b";
const BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
const azure = new PlanState("westeurope");

const sim = simulate({
  project: "hpc-batch",
  stack: "dev",
  config: {
    "azure-native:location": "westeurope",
    "hpc-batch:batchApplicationVersion": "1.0.0",
    "hpc-batch:deployerObjectId": PIPELINE,
    "hpc-batch:deployerPrincipalType": "ServicePrincipal",
  },
  id: (r) => azure.id(r),
  state: (r) => azure.state(r),
  call: (inv) => azure.call(inv),
  // The grant is all this test reads; serializing the package's provider (tests/secrets.test.ts
  // checks that) would only cost time.
  serializeDynamicProviders: false,
});

test("the grant goes to the configured principal, not to whoever runs pulumi", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../index") as () => Promise<unknown>;
  await program();
  await sim.settle();
  const runner = sim.invocations.length > 0 ? azure.call(sim.invocations[0]).objectId : undefined;
  expect(runner).not.toBe(PIPELINE); // the runner is someone else
  const storage = sim.find("azure-native:storage:StorageAccount", "app-storage");
  const scope = azure.id(storage);
  const grant = sim.find(
    "azure-native:authorization:RoleAssignment",
    "deployer-blob-data-contributor",
  );
  expect(grant.inputs).toEqual({
    roleAssignmentName: roleAssignmentName(scope, PIPELINE, BLOB_CONTRIBUTOR),
    scope,
    principalId: PIPELINE,
    principalType: "ServicePrincipal",
    roleDefinitionId: `/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/${BLOB_CONTRIBUTOR}`,
  });
}, 60_000);
