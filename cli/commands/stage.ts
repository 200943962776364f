/**
 * `hpc-batch stage`: copies the binaries `<folder>/stage.json` lists (by default the static
 * ffmpeg from `@ffmpeg-installer/linux-x64`) into the package folder. Idempotent. The folder
 * defaults to the project root's (found from any subfolder).
 */
import * as path from "node:path";
import type { Command } from "commander";
import { CONFIG_DEFAULTS } from "../../lib/core/defaults";
import { findProjectRoot, projectPath } from "../../lib/core/projectRoot";
import type { CommandContext } from "../context";

interface StageFlags {
  folder?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("stage")
    .description("Copy the binaries <folder>/stage.json lists from npm packages into the folder")
    .option(
      "--folder <dir>",
      `package folder holding stage.json (default: ${CONFIG_DEFAULTS.applicationFolder} in the project root)`,
    )
    .option("--json", "print the staged files as JSON")
    .action(async (flags: StageFlags) => {
      const folder = projectPath(flags.folder, CONFIG_DEFAULTS.applicationFolder);
      const shown = flags.folder ?? (path.relative(process.cwd(), folder) || ".");
      let root: string | undefined;
      try {
        root = findProjectRoot(process.cwd());
      } catch {
        root = undefined; // a folder given explicitly, outside any project
      }
      const { stageFolder } = await import("../../lib/package/stage");
      // node_modules is looked up above the folder, then above the project root (or the working
      // directory outside a project).
      const staged = await stageFolder({
        folder: shown,
        resolveFrom: [folder, root ?? process.cwd()],
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(staged)}\n`);
      } else if (staged.length === 0) {
        process.stdout.write(`nothing to stage: ${shown} has no stage.json entries\n`);
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
