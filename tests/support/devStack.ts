/**
 * The `dev` stack as `hpc-batch plan` evaluates it: Pulumi.yaml defaults plus Pulumi.dev.yaml
 * (lib/plan readStackConfig), the real program (index.ts) under the simulated engine, and the
 * plan's stand-ins for what Azure computes (lib/planState). Each call runs the program afresh in
 * its own module registry, so a test can compare two runs, or change a config value.
 */
import * as path from "node:path";
import type * as pulumiModule from "@pulumi/pulumi";
import type * as configModule from "../../lib/config";
import type * as planModule from "../../lib/plan";
import type * as planStateModule from "../../lib/planState";
import type * as simulateModule from "../../lib/simulate";
import type { Registration } from "../../lib/simulate";

export const ROOT = path.join(__dirname, "..", "..");

export interface StackOutput {
  value: unknown;
  secret: boolean;
}

export interface DevStackRun {
  registrations: Registration[];
  /** The program's exports, resolved, with whether each is a secret. */
  outputs: Record<string, StackOutput>;
}

export interface DevStackOptions {
  /** Overrides or adds config values, by full key (`hpc-batch:...`). */
  config?: Record<string, unknown>;
  /**
   * Serialize the dynamic provider as `pulumi up` does, so `__provider` holds the text Pulumi
   * would keep in state. Pulumi's closure serializer cannot follow modules inside a fresh jest
   * module registry, so such a run uses the test file's own registry: once per file.
   * Defaults to false: a fresh registry per run, as many runs as a test needs.
   */
  serializeDynamicProviders?: boolean;
}

/** Runs the dev stack's program once and returns what it registered and exported. */
export async function simulateDevStack(opts: DevStackOptions = {}): Promise<DevStackRun> {
  let run: DevStackRun | undefined;
  const serialize = opts.serializeDynamicProviders === true;
  const isolate = serialize
    ? async (fn: () => Promise<void>) => fn()
    : (fn: () => Promise<void>) => jest.isolateModulesAsync(fn);
  await isolate(async () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const pulumi = require("@pulumi/pulumi") as typeof pulumiModule;
    const { parseStackConfig } = require("../../lib/config") as typeof configModule;
    const { readStackConfig } = require("../../lib/plan") as typeof planModule;
    const { PlanState } = require("../../lib/planState") as typeof planStateModule;
    const { simulate } = require("../../lib/simulate") as typeof simulateModule;
    const stackConfig = readStackConfig(ROOT, "dev");
    const all = { ...stackConfig.config, ...opts.config };
    const standIns = new PlanState(parseStackConfig(all).location);
    const sim = simulate({
      project: stackConfig.project,
      stack: "dev",
      config: all,
      secretKeys: stackConfig.secretKeys,
      id: (r) => standIns.id(r),
      state: (r) => standIns.state(r),
      call: (inv) => standIns.call(inv),
      serializeDynamicProviders: serialize,
    });
    const runProgram = require("../../index") as () => Promise<Record<string, unknown>>;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const program = await runProgram(); // an async program, as Pulumi runs it
    await sim.settle();
    const outputs: Record<string, StackOutput> = {};
    for (const [name, v] of Object.entries(program)) {
      const out: pulumiModule.Output<unknown> = pulumi.output(v as pulumiModule.Input<unknown>);
      const [value, secret] = await Promise.all([
        new Promise<unknown>((resolve) => out.apply((x) => resolve(x))),
        pulumi.isSecret(out),
      ]);
      outputs[name] = { value, secret };
    }
    await sim.settle();
    run = { registrations: sim.registrations, outputs };
  });
  if (!run) throw new Error("the dev stack did not run");
  return run;
}
