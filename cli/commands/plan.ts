// placeholder: replaced by the command's owner
import type { Command } from "commander";
import type { CommandContext } from "../main";
export function register(_program: Command, _ctx: CommandContext): void {}
