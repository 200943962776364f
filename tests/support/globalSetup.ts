/**
 * Runs once in jest's parent process, before any worker starts (jest.config.js globalSetup):
 * stages the checkout's application folder (hpc-application/stage.json) as `hpc-batch stage`
 * does.
 *
 * Why: on a fresh clone nothing is staged yet, and several test files run the program or a plan,
 * which stage it first. Two workers staging at once each copy ffmpeg into their own
 * `bin/.ffmpeg.<pid>.staging`; the first to finish then scans the folder while the other's copy
 * is still there, and its build fails. Staged here, every later stage finds it done. Staging
 * writes hpc-application/bin/ffmpeg (68 MB, git-ignored), as `npm run plan` or any test running
 * the program would.
 */
import * as path from "node:path";
import { InputError } from "../../lib/core/errors";
import { stageFolder } from "../../lib/package/stage";

export default async function globalSetup(): Promise<void> {
  const root = path.join(__dirname, "..", "..");
  const folder = path.join(root, "hpc-application");
  try {
    await stageFolder({ folder, resolveFrom: [folder, root] });
  } catch (err) {
    // Off linux/x64 (@ffmpeg-installer/linux-x64 is an optional dependency) or without it
    // installed: every other test still runs; those that need ffmpeg fail with this reason.
    if (!(err instanceof InputError)) throw err;
    process.stderr.write(`\nhpc-application not staged: ${err.message}\n`);
  }
}
