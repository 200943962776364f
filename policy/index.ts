/**
 * The hpc-batch CrossGuard policy pack: `pulumi preview|up --policy-pack policy`.
 *
 * Constructing a `PolicyPack` starts the pack's gRPC server and prints its port for the Pulumi
 * CLI, which is all this file does: only the CLI's policy host should load it. Everything else
 * (the tests, `hpc-batch plan`) imports `./policies` or `./runner`, which start nothing.
 */
import { PolicyPack } from "@pulumi/policy";
import { toResourceValidationPolicy } from "./crossGuard";
import { POLICIES } from "./policies";

new PolicyPack("hpc-batch", {
  description:
    "Security and cost guard rails for hpc-batch on Azure Batch: storage, Batch accounts, " +
    "pools and application packages.",
  provider: "azure",
  policies: POLICIES.map(toResourceValidationPolicy),
});
