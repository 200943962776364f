/**
 * `hpc-batch plan [--stack dev] [--project dir] [--out-dir dir] [--against base/plan.json]
 * [--fail-on replace,delete,policy] [--json]`: the offline plan (lib/plan/plan.ts), and with `--against` what changes (lib/plan/planDiff.ts).
 * A project whose Pulumi.yaml name is not `hpc-batch` runs its own program (`project` mode: its
 * config is not checked against hpc-batch's keys, its package is the one it builds); the tree
 * then starts with a line saying so.
 * Exit 0 when planned, 1 on a mandatory policy violation (the files are still written), 2 on bad
 * input (nothing written), 3 when `--fail-on` stops the change (it wins over 1; the files are
 * still written).
 *
 * The plan's modules (the Pulumi engine, the program, the policy pack) load inside the action:
 * registering the command costs nothing to the other commands.
 */
import type { Command } from "commander";
import type { PolicyPackConfig } from "../../policy/config";
import { EXIT_FAILED, type CommandContext } from "../context";

/** Exit code when `--fail-on` trips: distinct from a failed plan (1) and bad input (2). */
export const EXIT_GATE = 3;

/** What `--fail-on` takes (lib/plan/planDiff FAIL_ON, repeated here to keep registration light). */
const FAIL_ON_VALUES = ["replace", "delete", "policy"] as const;
type FailOn = (typeof FAIL_ON_VALUES)[number];

interface PlanFlags {
  stack: string;
  outDir?: string;
  project?: string;
  policyConfig?: string;
  against?: string;
  failOn: string[];
  json?: boolean;
  timings?: boolean;
}

/** `--fail-on` values, repeatable or comma-separated, checked before any work. */
export function parseFailOn(values: string[], against: string | undefined): FailOn[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { InputError } = require("../../lib/core/errors") as typeof import("../../lib/core/errors");
  const out: FailOn[] = [];
  for (const v of values.flatMap((x) => x.split(",")).map((x) => x.trim())) {
    if (!(FAIL_ON_VALUES as readonly string[]).includes(v)) {
      throw new InputError("--fail-on", v, `must be one of ${FAIL_ON_VALUES.join(", ")}`);
    }
    if (v !== "policy" && against === undefined) {
      throw new InputError(
        "--fail-on",
        v,
        "needs --against <plan.json>: a plan alone has nothing to compare",
      );
    }
    if (!out.includes(v as FailOn)) out.push(v as FailOn);
  }
  return out;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only when `plan` runs */
export function register(program: Command, ctx: CommandContext): void {
  program
    .command("plan")
    .description(
      "Show what `pulumi up` would deploy, offline (no Pulumi CLI, no credentials): resource tree, deciding settings, stack outputs, application package, policies, and with --against what changes; writes plan.json and plan.md",
    )
    .option("--stack <name>", "stack whose Pulumi.<stack>.yaml config to use", "dev")
    .option(
      "--out-dir <dir>",
      "where plan.json and plan.md are written (default: the project folder)",
    )
    .option(
      "--project <dir>",
      "folder holding Pulumi.yaml and the stack files (default: found as git finds a repository, from the working folder up); a Pulumi.yaml name other than hpc-batch runs that project's own program (Pulumi.yaml main) without hpc-batch's config checks and package build",
    )
    .option(
      "--policy-config <file>",
      "policy pack config, the file `pulumi up --policy-pack-config` takes (deliberate exceptions, e.g. a higher pool-max-nodes cap)",
    )
    .option(
      "--against <plan.json>",
      "a base plan (the base branch's, or the one kept with the last deployment): show what changes, resource by resource",
    )
    .option(
      "--fail-on <kinds>",
      "exit 3 when the change replaces or deletes a resource, or a policy now fails: replace, delete, policy (repeatable or comma-separated)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--json", "print plan.json instead of the tree")
    .option("--timings", "print the time each phase took, on stderr")
    .action(async (o: PlanFlags) => {
      // Before anything loads Pulumi: the plan never serializes a function, so TypeScript and
      // arborist (half of Pulumi's load) load only if something does.
      const { deferClosureSerializer } =
        require("../../lib/plan/deferClosure") as typeof import("../../lib/plan/deferClosure");
      deferClosureSerializer();
      const fs = require("node:fs") as typeof import("node:fs");
      const path = require("node:path") as typeof import("node:path");
      const { InputError } =
        require("../../lib/core/errors") as typeof import("../../lib/core/errors");
      const failOn = parseFailOn(o.failOn, o.against);
      const config = o.policyConfig === undefined ? undefined : readPolicyConfig(o.policyConfig);
      let against;
      if (o.against !== undefined) {
        const { parseBasePlan } =
          require("../../lib/plan/planDiff") as typeof import("../../lib/plan/planDiff");
        let text: string;
        try {
          text = fs.readFileSync(o.against, "utf8");
        } catch (err) {
          throw new InputError(
            "--against",
            o.against,
            `must be a readable plan.json (${(err as Error).message.split("\n")[0]})`,
          );
        }
        against = parseBasePlan(text, o.against);
      }
      const { runPlan } = require("../../lib/plan/plan") as typeof import("../../lib/plan/plan");
      const { renderText } =
        require("../../lib/plan/render/terminal") as typeof import("../../lib/plan/render/terminal");
      const { gateReasons } =
        require("../../lib/plan/planDiff") as typeof import("../../lib/plan/planDiff");
      const { evaluatePolicies } =
        require("../../policy/runner") as typeof import("../../policy/runner");
      const { findProjectRoot } =
        require("../../lib/core/projectRoot") as typeof import("../../lib/core/projectRoot");
      const root =
        o.project === undefined ? findProjectRoot(process.cwd()) : path.resolve(o.project);
      const result = await runPlan({
        root,
        stack: o.stack,
        outDir: o.outDir === undefined ? root : path.resolve(o.outDir),
        policies: (resources, opts) => evaluatePolicies(resources, { ...opts, config }),
        against,
      });
      // Said in every output mode (on stderr with --json, whose stdout is the document alone):
      // a renamed hpc-batch project would otherwise skip hpc-batch's checks without a word.
      const modeLine =
        result.mode === "project"
          ? `Mode: project (Pulumi.yaml name ${result.doc.project}, not hpc-batch): ran its own program ${result.program}; hpc-batch's config checks and package build skipped\n`
          : "";
      if (o.json) {
        process.stderr.write(modeLine);
        process.stdout.write(result.json);
      } else {
        process.stdout.write(modeLine);
        process.stdout.write(renderText(result.doc, result.diff));
        process.stdout.write(`\nWrote ${result.files.json} and ${result.files.markdown}\n`);
      }
      if (o.timings) {
        const parts = result.timings.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`);
        process.stderr.write(`plan phases: ${parts.join(", ")}\n`);
      }
      if (result.mandatoryViolations > 0) {
        process.stderr.write(
          `hpc-batch plan: ${result.mandatoryViolations} mandatory policy violation(s)\n`,
        );
        ctx.setExitCode(EXIT_FAILED);
      }
      const reasons = gateReasons(failOn, result.doc, result.diff);
      if (reasons.length > 0) {
        process.stderr.write(
          `hpc-batch plan: --fail-on ${failOn.join(",")}: ${reasons.join("; ")}\n`,
        );
        // The gate the caller asked for wins over 1: CI tells "stopped by choice" from "failed".
        ctx.setExitCode(EXIT_GATE);
      }
    });
}

/** The `--policy-pack-config` file `pulumi up` takes, read before any work. */
function readPolicyConfig(file: string): PolicyPackConfig {
  const fs = require("node:fs") as typeof import("node:fs");
  const { InputError } = require("../../lib/core/errors") as typeof import("../../lib/core/errors");
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
/* eslint-enable @typescript-eslint/no-require-imports */
