/**
 * Runs once in jest's parent process, before any worker starts (jest.config.js globalSetup):
 * stages the checkout's application folder (hpc-application/stage.json) as `hpc-batch stage`
 * does.
 *
 * Why: on a fresh clone nothing is staged yet, and several test files run the program or a plan,
 * which stage it first. Two workers staging at once each copy ffmpeg into their own
 * `bin/.ffmpeg.<pid>.staging`; the first to finish then scans the folder while the other's copy
 * is still there, and its build fails. Staged here, every later stage finds it done.
 */
import * as path from "node:path";
import { stageFolder } from "../../lib/package/stage";

export default async function globalSetup(): Promise<void> {
  const root = path.join(__dirname, "..", "..");
  const folder = path.join(root, "hpc-application");
  await stageFolder({ folder, resolveFrom: [folder, root] });
}
