/**
 * `hpc-batch plan [--stack dev] [--out-dir .] [--json]`: the offline plan (lib/plan.ts). Exit 0
 * when planned, 1 on a mandatory policy violation (the files are still written), 2 on bad config
 * (nothing written).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { InputError } from "../../lib/errors";
import { runPlan } from "../../lib/plan";
import { renderText } from "../../lib/planRender";
import type { PolicyPackConfig } from "../../policy/policies";
import { evaluatePolicies } from "../../policy/runner";

/** The `--policy-pack-config` file `pulumi up` takes, read before any work. */
function readPolicyConfig(file: string): PolicyPackConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new InputError(
      "--policy-config",
      file,
      `must be a readable JSON file in the format of pulumi's --policy-pack-config (${(err as Error).message.split("\n")[0]})`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InputError(
      "--policy-config",
      file,
      'must hold a JSON object of policy names, e.g. {"pool-max-nodes": {"maxNodes": 100}}',
    );
  }
  return parsed as PolicyPackConfig;
}
import { EXIT_FAILED, type CommandContext } from "../main";

interface PlanFlags {
  stack: string;
  outDir: string;
  project?: string;
  policyConfig?: string;
  json?: boolean;
}

/** Plans slower than this print where the time went. */
const SLOW_MS = 3000;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("plan")
    .description(
      "Show what `pulumi up` would deploy, offline (no Pulumi CLI, no credentials): resource tree, stack outputs, application package, policies; writes plan.json and plan.md",
    )
    .option("--stack <name>", "stack whose Pulumi.<stack>.yaml config to use", "dev")
    .option("--out-dir <dir>", "where plan.json and plan.md are written", ".")
    .option(
      "--project <dir>",
      "folder holding Pulumi.yaml and the stack files (default: hpc-batch's own); the program is always hpc-batch's",
    )
    .option(
      "--policy-config <file>",
      "policy pack config, the file `pulumi up --policy-pack-config` takes (deliberate exceptions, e.g. a higher pool-max-nodes cap)",
    )
    .option("--json", "print plan.json instead of the tree")
    .action(async (o: PlanFlags) => {
      const config = o.policyConfig === undefined ? undefined : readPolicyConfig(o.policyConfig);
      const result = await runPlan({
        root: o.project === undefined ? undefined : path.resolve(o.project),
        stack: o.stack,
        outDir: path.resolve(o.outDir),
        policies: (resources, opts) => evaluatePolicies(resources, { ...opts, config }),
      });
      const total = result.timings.reduce((s, [, ms]) => s + ms, 0);
      if (o.json) process.stdout.write(result.json);
      else {
        process.stdout.write(renderText(result.doc));
        process.stdout.write(`\nWrote ${result.files.json} and ${result.files.markdown}\n`);
      }
      if (total > SLOW_MS) {
        const parts = result.timings.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`);
        process.stderr.write(`plan took ${(total / 1000).toFixed(1)} s: ${parts.join(", ")}\n`);
      }
      if (result.mandatoryViolations > 0) {
        process.stderr.write(
          `hpc-batch plan: ${result.mandatoryViolations} mandatory policy violation(s)\n`,
        );
        ctx.setExitCode(EXIT_FAILED);
      }
    });
}
