/**
 * `hpc-batch verify --stack <name>`: checks a deployed stack works (lib/node/verify.ts). The stack's
 * outputs come from `pulumi stack output --json --stack <name>` when the Pulumi CLI is installed,
 * or from `--outputs <file>` (that command's output saved to a file). Exit 0 when every check
 * passed, 1 when one failed, 2 on bad input.
 */
import * as fs from "node:fs";
import type { Command } from "commander";
import type { BatchApplications } from "../../lib/azure/armBatchApps";
import type { BatchData } from "../../lib/azure/batchData";
import { DEFAULT_ARM_ENDPOINT } from "../../lib/azure/credentials";
import { InputError } from "../../lib/core/errors";
import { validateArmEndpoint, validateBatchEndpoint } from "../../lib/core/naming";
import { findProjectRoot } from "../../lib/core/projectRoot";
import type { VerifyReport, VerifyTarget } from "../../lib/node/verify";
import { EXIT_FAILED, type CommandContext } from "../context";

/** The flags every command that acts on a deployed stack takes (verify, set-default). */
export interface StackFlags {
  stack: string;
  outputs?: string;
  batchEndpoint?: string;
  armEndpoint: string;
}

interface VerifyFlags extends StackFlags {
  nodes?: string;
  timeout: string;
  poll: string;
  promote?: boolean;
  json?: boolean;
}

/** Adds the StackFlags options to a command. */
export function stackOptions(command: Command): Command {
  return command
    .requiredOption("--stack <name>", "the deployed stack")
    .option(
      "--outputs <file>",
      "the stack's outputs as JSON (pulumi stack output --json); default: ask the Pulumi CLI",
    )
    .option(
      "--batch-endpoint <endpoint>",
      "Batch account endpoint: the host the account reports (name.region.batch.azure.com) or an https:// URL (default: the batchAccountEndpoint output)",
    )
    .option("--arm-endpoint <url>", "Resource Manager endpoint", DEFAULT_ARM_ENDPOINT);
}

/** A deployed stack's target with its ARM application calls and Batch data plane, authenticated. */
export interface DeployedStack {
  target: VerifyTarget;
  apps: BatchApplications;
  batch: BatchData;
}

/**
 * Checks the endpoint flags, reads the stack's outputs, resolves the credentials and gets a token
 * for each endpoint, in that order, so bad input fails (exit 2) before any call to Azure and a
 * missing sign-in is one line before any work.
 */
export async function deployedStack(o: StackFlags): Promise<DeployedStack> {
  const armEndpoint = validateArmEndpoint("--arm-endpoint", o.armEndpoint).replace(/\/+$/, "");
  const batchEndpoint =
    o.batchEndpoint === undefined
      ? undefined
      : validateBatchEndpoint("--batch-endpoint", o.batchEndpoint);
  // Loaded here, not at start-up: `--help` needs none of the Azure SDKs (cli/main.ts).
  const { batchCredential, targetFromOutputs } = await import("../../lib/node/verify");
  const { armScope, ensureToken, resolveCredentials } = await import("../../lib/azure/credentials");
  const { BATCH_SCOPE, batchData } = await import("../../lib/azure/batchData");
  const { batchApplications } = await import("../../lib/azure/armBatchApps");
  const { outputs, source } = await readStackOutputs(o.stack, o.outputs);
  const target = targetFromOutputs(outputs, source);
  if (batchEndpoint) target.batchEndpoint = batchEndpoint;
  const creds = resolveCredentials();
  const batchCred = batchCredential(process.env, creds);
  await ensureToken(creds.arm, armScope(armEndpoint));
  await ensureToken(batchCred, BATCH_SCOPE);
  return {
    target,
    batch: batchData(target.batchEndpoint, batchCred),
    apps: batchApplications({
      endpoint: armEndpoint,
      credential: creds.arm,
      subscriptionId: target.subscriptionId,
      resourceGroup: target.resourceGroupName,
      account: target.accountName,
    }),
  };
}

/** The command that reboots the idle nodes onto `version`, for the flags this run was given. */
export function rollCommand(o: StackFlags, version: string): string {
  const outputs = o.outputs === undefined ? "" : ` --outputs ${o.outputs}`;
  return `hpc-batch set-default --stack ${o.stack}${outputs} --version ${version} --reboot-idle-nodes`;
}

/** The stack's outputs: `--outputs <file>`, else `pulumi stack output --json --stack <name>`. */
export async function readStackOutputs(
  stack: string,
  file: string | undefined,
): Promise<{ outputs: Record<string, unknown>; source: string }> {
  const parse = (text: string, source: string) => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new InputError(source, text.slice(0, 60), "must be JSON (pulumi stack output --json)");
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      throw new InputError(source, v, "must be a JSON object of stack outputs");
    }
    return { outputs: v as Record<string, unknown>, source };
  };
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      throw new InputError("--outputs", file, "must be a readable file");
    }
    return parse(text, `--outputs ${file}`);
  }
  // The Pulumi CLI finds the project in its working folder: run it in the project root, so the
  // command works from any subfolder.
  const cwd = findProjectRoot(process.cwd());
  // Loaded here: every command loads this module at start-up, few run the Pulumi CLI.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFile } = require("node:child_process") as typeof import("node:child_process");
  const text = await new Promise<string>((resolve, reject) => {
    execFile(
      "pulumi",
      ["stack", "output", "--json", "--stack", stack],
      { maxBuffer: 16 * 1024 * 1024, cwd },
      (err, stdout, stderr) => {
        if ((err as NodeJS.ErrnoException | null)?.code === "ENOENT") {
          reject(
            new InputError(
              "--outputs",
              undefined,
              `must be given: the Pulumi CLI is not installed to read stack ${stack}'s outputs (save them elsewhere with pulumi stack output --json --stack ${stack} > outputs.json)`,
            ),
          );
        } else if (err) {
          reject(new Error(`pulumi stack output failed: ${stderr.trim() || err.message}`));
        } else resolve(stdout);
      },
    );
  });
  return parse(text, `pulumi stack output --stack ${stack}`);
}

async function renderVerdict(r: VerifyReport, roll: string): Promise<string> {
  const { formatDuration } = await import("../../lib/core/progress");
  const { describeRollout } = await import("../../lib/publish/defaultVersion");
  const lines: string[] = [];
  const block = (title: string, text: string) => {
    lines.push(
      `${title}:`,
      ...text
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => `  ${l}`),
    );
  };
  if (r.stdout !== undefined) block("task stdout.txt", r.stdout);
  if (r.stderr) block("task stderr.txt", r.stderr);
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
  const took = formatDuration(r.durationMs / 1000);
  lines.push(
    r.ok ? `verify: OK in ${took}` : `verify: FAILED (${failed.join(", ")}) after ${took}`,
  );
  if (r.rollout) lines.push(describeRollout(r.rollout, roll));
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, ctx: CommandContext): void {
  stackOptions(
    program
      .command("verify")
      .description(
        "Check a deployed stack: package version Active and default (--promote: made the default once the smoke task passed as its canary), pool steady with a usable node, a smoke job runs the package; the job is always deleted",
      ),
  )
    .option(
      "--nodes <n>",
      "first resize the fixed-scale pool to n dedicated nodes (scaled back after)",
    )
    .option("--timeout <duration>", "limit for the waits, e.g. 900, 15m, 1h", "30m")
    .option("--poll <duration>", "delay between polls", "5s")
    .option(
      "--promote",
      "the version need not be the default: run the smoke task as its canary and make it the default only if it passes",
    )
    .option("--json", "print the report as JSON (progress goes to stderr)")
    .action(async (o: VerifyFlags) => {
      let nodes: number | undefined;
      if (o.nodes !== undefined) {
        nodes = Number(o.nodes);
        if (!/^\d+$/.test(o.nodes) || nodes < 1 || nodes > 1000) {
          throw new InputError("--nodes", o.nodes, "must be a whole number from 1 to 1000");
        }
      }
      const { createVerifyPrinter, parseDuration, verifyDeployment } =
        await import("../../lib/node/verify");
      const timeoutMs = parseDuration("--timeout", o.timeout);
      const pollMs = parseDuration("--poll", o.poll);
      const { target, apps, batch } = await deployedStack(o);

      const stream = o.json ? process.stderr : process.stdout;
      stream.write(
        `verify ${o.stack}: account ${target.accountName}, pool ${target.poolId}, package ${target.applicationId} ${target.version}\n`,
      );
      const progress = createVerifyPrinter(stream);
      let report: VerifyReport;
      try {
        report = await verifyDeployment({
          target,
          batch,
          apps,
          promote: o.promote === true,
          nodes,
          timeoutMs,
          pollMs,
          progress,
        });
      } finally {
        progress.stop();
      }
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(await renderVerdict(report, rollCommand(o, target.version)));
      if (!report.ok) ctx.setExitCode(EXIT_FAILED);
    });
}
