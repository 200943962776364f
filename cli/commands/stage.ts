/**
 * `hpc-batch stage`: copies the binaries `<folder>/stage.json` lists (by default the static
 * ffmpeg from `@ffmpeg-installer/linux-x64`) into the package folder. Idempotent.
 */
import type { Command } from "commander";
import { stageFolder } from "../../lib/stage";
import type { CommandContext } from "../main";

interface StageFlags {
  folder: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("stage")
    .description("Copy the binaries <folder>/stage.json lists from npm packages into the folder")
    .option("--folder <dir>", "package folder holding stage.json", "hpc-application")
    .option("--json", "print the staged files as JSON")
    .action(async (flags: StageFlags) => {
      // node_modules is looked up above the folder, then above the working directory.
      const staged = await stageFolder({
        folder: flags.folder,
        resolveFrom: [flags.folder, process.cwd()],
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(staged)}\n`);
      } else if (staged.length === 0) {
        process.stdout.write(`nothing to stage: ${flags.folder} has no stage.json entries\n`);
      } else {
        for (const s of staged) {
          const mode = s.mode.toString(8).padStart(4, "0");
          process.stdout.write(
            `${s.action.padEnd(9)} ${s.to} (${s.bytes} bytes, ${mode}) from ${s.from}\n`,
          );
        }
      }
      ctx.setExitCode(0);
    });
}
