/**
 * Shared test helpers. Import these; never copy a helper into a test file.
 * - `simulate` (from lib/plan/simulate) installs the recording engine: call it before importing a
 *   Pulumi program or constructing a component, then `await sim.settle()`.
 * - `unwrap` resolves an Output to its plain value.
 * - `runCli` runs the `hpc-batch` CLI in-process and captures what it prints.
 */
import * as pulumi from "@pulumi/pulumi";
import { main } from "../cli/main";

export { simulate } from "../lib/plan/simulate";
export type { Registration, Simulation } from "../lib/plan/simulate";

export function unwrap<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hpc-batch <args>` in this process, capturing stdout and stderr. */
export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = jest
    .spyOn(process.stdout, "write")
    .mockImplementation((chunk: string | Uint8Array) => {
      stdout += chunk.toString();
      return true;
    });
  const err = jest
    .spyOn(process.stderr, "write")
    .mockImplementation((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    });
  try {
    const code = await main(["node", "hpc-batch", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/**
 * Runs the CLI in a fresh module registry: `plan` requires the Pulumi program, which runs once
 * per registry (as once per process outside the tests).
 */
export async function runCliFresh(args: string[]): Promise<CliResult> {
  let result: CliResult | undefined;
  await jest.isolateModulesAsync(async () => {
    const fresh = await import("./helpers");
    result = await fresh.runCli(args);
  });
  return result!;
}
