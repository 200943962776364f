/**
 * `hpc-batch set-default --stack <name> --version <v> [--reboot-idle-nodes]`: points the
 * application's default version at an active version. A rollback is pointing it at an earlier one;
 * nodes install the default when they join, reboot or are reimaged, so the command says which nodes
 * keep which version and, with `--reboot-idle-nodes`, reboots the idle ones now.
 */
import type { Command } from "commander";
import { validateApplicationVersion } from "../../lib/core/naming";
import { EXIT_FAILED, type CommandContext } from "../context";
import { deployedStack, rollCommand, stackOptions, type StackFlags } from "./verify";

interface SetDefaultFlags extends StackFlags {
  version: string;
  rebootIdleNodes?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  stackOptions(
    program
      .command("set-default")
      .description(
        "Point the application's default version at an active version (a rollback: an earlier one); nodes get it when they join, reboot or are reimaged",
      ),
  )
    .requiredOption("--version <version>", "the active version to make the default")
    .option(
      "--reboot-idle-nodes",
      "reboot the pool's idle nodes so they install the default now (busy nodes are left alone)",
    )
    .action(async (o: SetDefaultFlags) => {
      const version = validateApplicationVersion("--version", o.version);
      const { target, apps, batch } = await deployedStack(o);
      // Loaded here, not at start-up: `--help` needs none of it (cli/main.ts).
      const { describeReboot, describeRollout, setDefaultVersion } =
        await import("../../lib/publish/defaultVersion");
      process.stdout.write(
        `set-default ${o.stack}: account ${target.accountName}, application ${target.applicationId}, pool ${target.poolId}\n`,
      );
      // A refusal (missing or inactive version) throws before any write: main prints it, exit 1.
      const result = await setDefaultVersion({
        applicationId: target.applicationId,
        version,
        poolId: target.poolId,
        apps,
        batch,
        rebootIdleNodes: o.rebootIdleNodes === true,
      });
      const { rollout, reboot } = result;
      // Offer the reboot only when it was not just done.
      const roll = reboot ? undefined : rollCommand(o, rollout.version);
      process.stdout.write(`${describeRollout(rollout, roll)}\n`);
      if (reboot) process.stdout.write(`${describeReboot(reboot, rollout.version)}\n`);
      if (rollout.nodesError || (reboot && reboot.failed.length > 0)) ctx.setExitCode(EXIT_FAILED);
    });
}
